"""AWS services other than DynamoDB: ``bus`` (events calsync publishes), ``dead_letter`` (poison messages
with their reason), ``secret_store`` (Secrets Manager reads, cached in memory, one tenant's secrets only),
``tenant_session`` (clients on a role session tagged with one tenant). boto3 is imported lazily."""
