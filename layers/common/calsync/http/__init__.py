"""HTTP below every provider and token endpoint: ``client`` (the shared httpx client factory), ``outcomes``
(what each answer means: the tables every provider and OAuth module consults) and ``bearer`` (requests with
an OAuth bearer token, renewed once on a 401)."""
