"""Scale-out: batch inference on a Ray cluster (:mod:`~cancerllm.scale.batch`) and multi-GPU training launch
configs (:mod:`~cancerllm.scale.launch`). Ray is imported only inside the functions that need it."""

from cancerllm.scale.batch import BatchConfig, run
from cancerllm.scale.sink import ShardWriter, read_records

__all__ = ["BatchConfig", "ShardWriter", "read_records", "run"]
