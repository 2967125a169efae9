"""ImmiscibleNoise: the noise a diffusion training step draws, already assigned; and the
DataLoader collate wrapper that does the same inside the loader's workers."""

import concurrent.futures
import threading

import torch

import immiscible

from . import _tensor as T
from . import functional as F

__all__ = ["ImmiscibleNoise", "NoiseCollate", "noise_collate"]

METHODS = ("assign", "knn")


class ImmiscibleNoise:
    """Draws Gaussian noise for a batch and returns it assigned to the batch's images.

    The one line a training loop changes::

        imm = ImmiscibleNoise()
        ...
        noise = imm(x)          # was: noise = torch.randn_like(x)

    Parameters
    ----------
    method : {"assign", "knn"}
        ``"assign"``: draw B noise rows and reorder them to minimise the total image-noise
        distance (Immiscible Diffusion; the noise stays the exact set of Gaussian draws).
        ``"knn"``: draw k candidates per image and keep each image's nearest one (Improved
        Immiscible Diffusion; biased toward the images, see the C header).
    k : int
        Candidates per image for ``"knn"``.
    solver : {"exact", "auction"}
    precision : {"fp32", "fp16", "bf16", "int8"}
    metric : {"l2", "sql2"}
    distance : {"auto", "library", "torch"}
        Where the distances are computed; see :func:`immiscible.torch.assign_noise`.
    generator : torch.Generator, optional
        Draws the noise (on the generator's device, which must be the batches').
    threads : int, optional
        Library threads (``None``: ``torch.get_num_threads()`` when the instance is made).

    Notes
    -----
    The library path goes through one :class:`immiscible.Assigner`, whose workspace is reused
    from step to step. An instance may be called from several threads; :meth:`submit` runs
    the assignment on a background thread of its own. :meth:`close` (or ``with``) releases
    both.

    Examples
    --------
    >>> import torch
    >>> from immiscible.torch import ImmiscibleNoise
    >>> imm = ImmiscibleNoise(generator=torch.Generator().manual_seed(0))
    >>> x = torch.rand(16, 1, 8, 8) * 2 - 1
    >>> noise = imm(x)
    >>> noise.shape, noise.dtype
    (torch.Size([16, 1, 8, 8]), torch.float32)
    >>> future = imm.submit(x)          # the same, on a background thread
    >>> future.result().shape
    torch.Size([16, 1, 8, 8])
    >>> imm.close()
    """

    def __init__(self, method="assign", k=4, *, solver="exact", precision="fp32", metric="l2",
                 distance="auto", generator=None, threads=None):
        T.check_choice("method", method, METHODS)
        T.check_choice("distance", distance, T.DISTANCES)
        if method == "knn" and (not isinstance(k, int) or k < 1):
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        self.method = method
        self.k = k
        self.solver = solver
        self.precision = precision
        self.metric = metric
        self.distance = distance
        self.generator = generator
        self.threads = T.resolve_threads(threads)
        self._assigner = immiscible.Assigner(solver=solver, precision=precision, metric=metric,
                                             threads=self.threads)
        self._executor = None
        self._executor_lock = threading.Lock()

    def __repr__(self):
        k = f", k={self.k}" if self.method == "knn" else ""
        return (f"ImmiscibleNoise(method={self.method!r}{k}, solver={self.solver!r}, "
                f"precision={self.precision!r}, metric={self.metric!r}, "
                f"distance={self.distance!r})")

    def draw(self, x):
        """The raw Gaussian draw for batch ``x``: shaped like x, or (B, k, ...) for ``"knn"``;
        x's dtype (float32 for integer images) and device, from ``generator``."""
        T.check_tensor("x", x, floating=False)
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        shape = tuple(x.shape)
        if self.method == "knn":
            shape = shape[:1] + (self.k,) + shape[1:]
        return torch.randn(shape, generator=self.generator, dtype=dtype, device=x.device)

    def assign(self, x, noise):
        """Assign an already drawn ``noise`` (shape of :meth:`draw`) to ``x``.

        Returns
        -------
        noise : torch.Tensor, shaped like x
        index : torch.LongTensor, shape (B,)
            ``"assign"``: the permutation (``out[i] == noise[index[i]]``); ``"knn"``: the
            candidate kept per image.
        """
        if not x.is_floating_point():
            x = x.to(noise.dtype)
        if self.method == "knn":
            return F.select_noise_knn(x, noise, precision=self.precision, metric=self.metric,
                                      threads=self.threads, distance=self.distance,
                                      assigner=self._assigner)
        return F.assign_noise(x, noise, solver=self.solver, precision=self.precision,
                              metric=self.metric, threads=self.threads, distance=self.distance,
                              assigner=self._assigner)

    def __call__(self, x):
        """Noise for batch ``x``: drawn (:meth:`draw`) and assigned (:meth:`assign`); shaped
        like x, on its device."""
        return self.assign(x, self.draw(x))[0]

    def submit(self, x):
        """Start the noise for ``x`` on a background thread; returns a
        :class:`concurrent.futures.Future` whose ``result()`` is what ``self(x)`` returns.

        The noise is drawn here, on the calling thread, so the generator advances in call order
        and ``submit(x).result()`` equals ``self(x)`` from the same generator state. The
        library releases the GIL, so the assignment of the next batch runs while this thread
        trains on the current one. On CUDA the work is queued on the caller's current stream.
        Do not modify x until the future is done.
        """
        noise = self.draw(x)
        # The draw (and whatever produced x) was queued on this thread's current CUDA stream; the
        # background work runs on the same stream, so it is ordered after them.
        stream = torch.cuda.current_stream(x.device) if x.is_cuda else None

        def work():
            if stream is None:
                return self.assign(x, noise)[0]
            with torch.cuda.stream(stream):
                return self.assign(x, noise)[0]

        with self._executor_lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="immiscible")
            return self._executor.submit(work)

    def close(self):
        """Waits for submitted work, then releases the background thread and the Assigner."""
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
        if self._assigner is not None:
            self._assigner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class NoiseCollate:
    """A DataLoader ``collate_fn`` that appends the batch's assigned noise: see
    :func:`noise_collate`. Picklable (for the "spawn" start method): each worker process builds
    its own :class:`ImmiscibleNoise` on first use."""

    def __init__(self, base_collate=None, *, key=0, **noise_kwargs):
        if base_collate is None:
            from torch.utils.data import default_collate as base_collate
        self.base_collate = base_collate
        self.key = key
        self.noise_kwargs = noise_kwargs
        ImmiscibleNoise(**noise_kwargs).close()  # check the arguments in the parent
        self._imm = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_imm"] = None
        return state

    def __call__(self, samples):
        batch = self.base_collate(samples)
        images = batch[self.key] if isinstance(batch, (tuple, list, dict)) else batch
        if self._imm is None:
            self._imm = ImmiscibleNoise(**self.noise_kwargs)
        noise = self._imm(images)
        if isinstance(batch, dict):
            return {**batch, "noise": noise}
        if isinstance(batch, (tuple, list)):
            return (*batch, noise)
        return batch, noise


def noise_collate(base_collate=None, *, key=0, method="assign", k=4, solver="exact",
                  precision="fp32", metric="l2", threads=1):
    """A ``collate_fn`` that draws and assigns the noise inside the DataLoader's workers.

    For pixel-space training on the CPU side of the pipeline: each worker collates its batch
    with ``base_collate``, draws ``torch.randn`` like the images and assigns it with the
    library, so the training loop receives the noise with the batch and its own overhead is the
    loader's queue get.

    Parameters
    ----------
    base_collate : callable, optional
        Builds the batch from the samples; ``torch.utils.data.default_collate`` by default.
    key : int or str
        Where the images are in the collated batch when it is a tuple, list or dict (default:
        element 0); a tensor batch is the images.
    method, k, solver, precision, metric
        As in :class:`ImmiscibleNoise`.
    threads : int
        Library threads per worker (default 1: the workers are the parallelism).

    Returns
    -------
    NoiseCollate
        Callable: a tuple/list batch becomes ``(*batch, noise)``, a dict batch gains
        ``"noise"``, a tensor batch becomes ``(batch, noise)``.

    Notes
    -----
    The noise comes from torch's global generator, which the DataLoader seeds differently in
    every worker (from its own ``generator=`` when given): the noise is reproducible through
    the DataLoader's seed, and two workers never draw the same noise.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from immiscible.torch import noise_collate
    >>> data = TensorDataset(torch.rand(64, 1, 8, 8) * 2 - 1, torch.arange(64))
    >>> loader = DataLoader(data, batch_size=16, collate_fn=noise_collate())
    >>> images, labels, noise = next(iter(loader))
    >>> noise.shape
    torch.Size([16, 1, 8, 8])
    """
    return NoiseCollate(base_collate, key=key, method=method, k=k, solver=solver,
                        precision=precision, metric=metric, threads=threads, distance="library")
