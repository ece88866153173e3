"""Azure Cosmos DB storage: one container per aggregate, partitioned by tenant."""
