"""The minik8s API server: gRPC front end, object registry with watch, durable SQLite storage."""
