package dev.kiln.api.v1alpha1;

/** FSDP sharding strategies, with PyTorch's names. HYBRID_SHARD shards within a node and replicates across nodes. */
public enum ShardingStrategy {
  FULL_SHARD,
  SHARD_GRAD_OP,
  HYBRID_SHARD,
  NO_SHARD
}
