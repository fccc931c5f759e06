"""What every layer uses: ``settings`` (validated once per cold start), ``observability`` (the one logger
and metrics, metric names), ``errors`` (the error tree). Imports nothing else of calsync."""
