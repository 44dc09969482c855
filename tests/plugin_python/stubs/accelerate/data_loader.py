"""Stand-in for src/accelerate/data_loader.py (huggingface/accelerate at
16cb6eb80dd9aa8b4df1a63ef57863e455d53b83): BatchSamplerShard, how a prepared DataLoader splits one
index stream over processes for a map-style dataset (dispatch_batches=False, split_batches=False).

Mirrored (data_loader.py:110, ``_iter_with_no_split`` :213): the underlying batch sampler's
batches are dealt round-robin, batch ``idx`` going to process ``idx % num_processes``; a round is
yielded only once every process has a full batch. The real one then pads an incomplete last
round by cycling back to the first samples (drop_last=False, even_batches=True); this one drops
it (a GRPO generation batch is sized to whole rounds anyway).
"""
from torch.utils.data import BatchSampler


class BatchSamplerShard(BatchSampler):
    def __init__(self, batch_sampler: BatchSampler, num_processes: int = 1, process_index: int = 0,
                 split_batches: bool = False, even_batches: bool = True):
        if split_batches:
            raise NotImplementedError("stand-in: split_batches=True is not simulated")
        self.batch_sampler = batch_sampler
        self.num_processes = num_processes
        self.process_index = process_index
        self.split_batches = split_batches
        self.even_batches = even_batches
        self.batch_size = getattr(batch_sampler, "batch_size", None)
        self.drop_last = getattr(batch_sampler, "drop_last", False)

    def __len__(self):
        return len(self.batch_sampler) // self.num_processes

    def __iter__(self):
        batch_to_yield = None
        for idx, batch in enumerate(self.batch_sampler):
            if idx % self.num_processes == self.process_index:
                batch_to_yield = batch
            if idx % self.num_processes == self.num_processes - 1 and (
                    self.batch_size is None or len(batch) == self.batch_size):
                yield batch_to_yield
                batch_to_yield = None
