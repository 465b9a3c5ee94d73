"""Training datasets: manifests, the registry, models and shards, impact, loaders, lineage."""
