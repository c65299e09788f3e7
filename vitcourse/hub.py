"""Hub or local: one decision, one `from_pretrained` code path.

A pre-trained checkpoint (e.g. `google/vit-base-patch16-224`, ViT-B/16 of Dosovitskiy et al. 2021,
Section 4.1, fine-tuned on ImageNet-1k) comes from the Hugging Face Hub when the Hub can be
reached. Offline (`HF_HUB_OFFLINE=1`, `TRANSFORMERS_OFFLINE=1`, or no answer from the Hub within a
short timeout) `load_pretrained` says so plainly and loads the same Hub checkpoint from the local
Hugging Face cache if an earlier online run put it there, else a model saved on disk with
`save_pretrained` (see `save_local_model`), through the very same `from_pretrained` call.
`transformers` is imported only inside the functions that build its objects.
"""
from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlparse

DEFAULT_ENDPOINT = "https://huggingface.co"
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "on", "yes", "true"}
_WEIGHTS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
_probes: dict[str, tuple[bool, str]] = {}       # endpoint -> (reachable, reason): asked once per session


class Pretrained(NamedTuple):
    model: Any          # a transformers model (eval mode, as from_pretrained returns it)
    processor: Any      # its image processor, or None with processor=False
    source: str         # "hub", "hub cache" or "local"
    message: str        # one plain sentence: what was loaded, from where, and why


def hub_endpoint() -> str:
    """The Hub's address: $HF_ENDPOINT (a mirror) or https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline_reason() -> str | None:
    """'HF_HUB_OFFLINE=1 is set' (or TRANSFORMERS_OFFLINE) when offline mode is asked for, else None."""
    for var in OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"{var}={os.environ[var]} is set"
    return None


def _check_timeout(timeout) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
        raise ValueError(f"timeout must be a number of seconds in (0, 60], got {timeout!r}")
    return float(timeout)


def _probe(endpoint: str, timeout: float) -> tuple[bool, str]:
    """One HEAD request to the endpoint in a daemon thread: a slow DNS lookup (which socket timeouts
    do not cover) cannot block us longer than `timeout` either. Any HTTP answer counts as reachable."""
    result: dict[str, tuple[bool, str]] = {}

    def ask():
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout).close()
            result["answer"] = (True, f"{endpoint} answered")
        except urllib.error.HTTPError as err:                     # the server answered, with an error code
            result["answer"] = (True, f"{endpoint} answered (HTTP {err.code})")
        except (OSError, ValueError) as err:                      # URLError, timeouts, refused, bad URL
            reason = getattr(err, "reason", err)
            result["answer"] = (False, f"{urlparse(endpoint).netloc or endpoint} cannot be reached: {reason}")

    thread = threading.Thread(target=ask, name="vitcourse-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return result.get("answer", (False, f"no answer from {endpoint} within {timeout:g} s"))


def hub_status(timeout: float = 2.0, refresh: bool = False) -> tuple[bool, str]:
    """(reachable, reason). Offline variables are read on every call; the network probe runs at most
    once per endpoint and session (refresh=True asks again) and never takes longer than `timeout`."""
    timeout = _check_timeout(timeout)
    reason = offline_reason()
    if reason is not None:
        return False, reason
    endpoint = hub_endpoint()
    if refresh or endpoint not in _probes:
        _probes[endpoint] = _probe(endpoint, timeout)
    return _probes[endpoint]


def hub_available(timeout: float = 2.0, refresh: bool = False) -> bool:
    """True when the Hugging Face Hub can be used now (see `hub_status` for the reason)."""
    return hub_status(timeout, refresh)[0]


def is_saved_model(directory) -> bool:
    """True when `directory` holds a config.json and weights written by `save_pretrained`."""
    d = Path(directory)
    return (d / "config.json").is_file() and any(any(d.glob(pattern)) for pattern in _WEIGHTS)


def save_local_model(model, directory, processor=None) -> list[Path]:
    """`model.save_pretrained(directory)` (safetensors) and the processor's config next to it;
    returns the files written, sorted. The directory is what `load_pretrained` falls back to."""
    if not callable(getattr(model, "save_pretrained", None)):
        raise TypeError(f"save_local_model expects a transformers model (with save_pretrained), got "
                        f"{type(model).__name__}")
    if processor is not None and not callable(getattr(processor, "save_pretrained", None)):
        raise TypeError(f"processor must be a transformers processor (with save_pretrained) or None, got "
                        f"{type(processor).__name__}")
    directory = _as_path(directory, "directory")
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    if processor is not None:
        processor.save_pretrained(directory)
    return sorted(p for p in directory.rglob("*") if p.is_file())


def _as_path(value, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {value!r}")
    return Path(value).expanduser()


def _load(where, model_cls, processor, **kwargs):
    """The one code path: `model_cls.from_pretrained(where)` and the processor's from_pretrained."""
    model = model_cls.from_pretrained(where, **kwargs)
    if processor is False:
        return model, None
    proc_kwargs = {"local_files_only": True} if kwargs.get("local_files_only") else {}
    return model, processor.from_pretrained(where, **proc_kwargs)


def load_pretrained(model_id: str, local_dir, *, model_cls=None, processor=True, timeout: float = 2.0,
                    use_cache: bool = True, verbose: bool = True, **kwargs) -> Pretrained:
    """(model, processor, source, message): the Hub checkpoint `model_id` when the Hub is reachable,
    else (offline) that checkpoint from the local Hugging Face cache (`use_cache`), else the model
    saved in `local_dir` (by `save_local_model` or `save_pretrained`), loaded the same way.

    model_cls: a transformers model class (default `AutoModelForImageClassification`).
    processor: True for `AutoImageProcessor`, a processor class, or False for none.
    kwargs: passed to `model_cls.from_pretrained` on every path (e.g. num_labels, id2label,
    label2id, ignore_mismatched_sizes=True to put a new head on a checkpoint).
    verbose: print `message`.
    Raises FileNotFoundError, naming the directory and how to create it, when nothing can be loaded.
    """
    if not isinstance(model_id, str) or not model_id.strip():
        raise ValueError(f"model_id must be a Hub repository id such as 'google/vit-base-patch16-224', "
                         f"got {model_id!r}")
    local_dir = _as_path(local_dir, "local_dir")
    if processor is not True and processor is not False and not callable(getattr(processor, "from_pretrained", None)):
        raise TypeError(f"processor must be True (AutoImageProcessor), False (none) or a processor class with "
                        f"from_pretrained, got {processor!r}")
    if model_cls is not None and not callable(getattr(model_cls, "from_pretrained", None)):
        raise TypeError(f"model_cls must be a transformers model class with from_pretrained, got {model_cls!r}")
    if "local_files_only" in kwargs:
        raise ValueError("local_files_only is decided by load_pretrained (from the Hub's reachability); "
                         "set HF_HUB_OFFLINE=1 to force the offline path")
    if model_cls is None or processor is True:
        import transformers

        model_cls = model_cls or transformers.AutoModelForImageClassification
        processor = transformers.AutoImageProcessor if processor is True else processor

    reachable, reason = hub_status(timeout)
    if reachable:
        try:
            model, proc = _load(model_id, model_cls, processor, **kwargs)
            message = f"Loaded {model_id} from the Hugging Face Hub ({hub_endpoint()})."
            _say(message, verbose)
            return Pretrained(model, proc, "hub", message)
        except OSError as err:                    # not found, gated, connection dropped: fall back, saying why
            reason = f"the Hub answered but loading {model_id} failed: {err}"
    elif use_cache:
        try:
            model, proc = _load(model_id, model_cls, processor, local_files_only=True, **kwargs)
            message = (f"The Hugging Face Hub cannot be used ({reason}): loaded {model_id} from the local "
                       f"Hugging Face cache, where an earlier online run stored it.")
            _say(message, verbose)
            return Pretrained(model, proc, "hub cache", message)
        except OSError:
            pass                                  # not in the cache: the local model is next
    if not is_saved_model(local_dir):
        raise FileNotFoundError(
            f"Neither the Hub checkpoint nor a local model can be loaded: the Hugging Face Hub cannot be used "
            f"({reason}) and {local_dir} holds no model saved with save_pretrained (config.json and weights). "
            f"Create it with vitcourse.hub.save_local_model(model, {str(local_dir)!r}, processor) "
            f"(e.g. by running notebooks/07_huggingface.ipynb), or connect to the internet and unset "
            f"HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE.")
    if processor is not False and not (local_dir / "preprocessor_config.json").is_file():
        raise FileNotFoundError(f"{local_dir} holds a model but no preprocessor_config.json: save the processor "
                                f"too (save_local_model(model, directory, processor)) or pass processor=False")
    model, proc = _load(local_dir, model_cls, processor, **kwargs)
    message = (f"The Hugging Face Hub cannot be used ({reason}), so {model_id} is not loaded: this is the small "
               f"local model saved in {local_dir}, loaded with the same from_pretrained call.")
    _say(message, verbose)
    return Pretrained(model, proc, "local", message)


def _say(message: str, verbose: bool) -> None:
    if verbose:
        print(message)
