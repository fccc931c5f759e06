"""DynamoDB access for calsync. The only package that imports pynamodb; callers get domain types."""
