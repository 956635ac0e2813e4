"""Training on several processes with torchrun: who this process is, and what it must share.

    torchrun --nproc-per-node 2 -m training.train --preset dcgan-mnist            # one machine
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 8 \\
        --rdzv-backend c10d --rdzv-endpoint HOST:29400 -m training.train --preset dcgan-mnist  # each node

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them this is the single-process case of the same
code (nanoGPT's way). Every rank draws the global batch's random numbers (data order, latents, shifts)
identically and keeps its own rows (``World.shard``: rows rank, rank + N, ...; the rows
``torch.utils.data.DistributedSampler`` hands the rank from the global order), so a preset means the same
on any number of processes. Batch norm sees the global batch: ``nn.SyncBatchNorm`` on GPUs,
``GlobalBatchNorm`` below on CPUs, where SyncBatchNorm refuses to run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among the training processes; World() is the single-process run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes logs, grids, resume state and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch."""
        return rows[self.rank :: self.size] if self.distributed else rows

    def per_process(self, global_batch: int) -> int:
        if global_batch % self.size:
            raise ValueError(f"batch_size {global_batch} must be a multiple of the {self.size} processes")
        return global_batch // self.size

    def mean(self, stats: dict[str, float]) -> dict[str, float]:
        """The mean of each statistic over the ranks (each rank's value is a mean over equal shares)."""
        if not self.distributed:
            return stats
        values = torch.tensor(list(stats.values()), dtype=torch.float64)  # every rank has the same keys, in order
        dist.all_reduce(values)
        return dict(zip(stats, (values / self.size).tolist(), strict=True))

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


SINGLE_PROCESS = World()


def init_world(device_name: str) -> tuple[World, str]:
    """Joins torchrun's process group when launched by it. Returns the world and the device to use
    (``cuda:LOCAL_RANK`` on GPUs, so each process has its own)."""
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return World(), device_name
    world = World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(world.local_rank)
        device_name = f"cuda:{world.local_rank}"
    else:
        device_name = "cpu"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return world, device_name


def close_world(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


class AllReduceSum(torch.autograd.Function):
    """Sum over the ranks, differentiable any number of times: the gradient of a sum handed to every rank is
    the sum of the ranks' gradients (torch.distributed.nn's all_reduce, which is deprecated, does the same)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001 - autograd's signature
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return AllReduceSum.apply(grad)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the batch of every rank together, for CPU processes (gloo), where ``nn.SyncBatchNorm``
    refuses CPU tensors. Same parameters, buffers and state-dict keys as ``nn.BatchNorm1d/2d``; the
    statistics are sums all-reduced by ``AllReduceSum``, which is differentiable, so gradients
    (and the R1 penalty's double backward) flow across ranks as they would through one big batch."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        local_count = torch.tensor([x.numel() // x.shape[1]], dtype=x.dtype, device=x.device)
        sums = AllReduceSum.apply(torch.cat([x.sum(dims), local_count]))
        count = sums[-1]
        mean = sums[:-1] / count
        centred = x - mean.view(shape)
        var = AllReduceSum.apply(centred.square().sum(dims)) / count  # two passes, as batch norm itself
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(var.detach() * count / (count - 1), factor)
        return y


def global_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """The module with every batch norm turned into one over the global batch (in place where possible)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            replacement = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                          child.track_running_stats).to(device)
            replacement.load_state_dict(child.state_dict())
            if child.affine:  # keep the same Parameter objects, so optimisers and the weight average still see them
                replacement.weight, replacement.bias = child.weight, child.bias
            setattr(module, name, replacement)
        else:
            global_batch_norm(child, device)
    return module
