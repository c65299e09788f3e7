"""vitcourse.hub: the hub-or-local decision, offline with a tiny model saved to tmp_path.

No test touches the network: the offline variables are set, or the probe's `urlopen` and the
model classes are replaced by fakes that record what they were asked.
"""
import threading
import time
import urllib.error

import pytest
import torch

from vitcourse import hub

transformers = pytest.importorskip("transformers")
MODEL_ID = "google/vit-base-patch16-224"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    """Each test starts offline, with an empty probe cache and the default endpoint."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setattr(hub, "_probes", {})


def online(monkeypatch, urlopen):
    """Offline variables unset and urllib's urlopen replaced (counts its calls)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    calls = []

    def fake(request, timeout):
        calls.append((request.full_url, request.get_method(), timeout))
        return urlopen()

    monkeypatch.setattr(hub.urllib.request, "urlopen", fake)
    return calls


class _Response:
    def close(self):
        pass


def tiny_model(num_labels=3):
    config = transformers.ViTConfig(image_size=8, patch_size=4, num_channels=3, hidden_size=16,
                                    num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                                    num_labels=num_labels, id2label={i: f"class{i}" for i in range(num_labels)},
                                    label2id={f"class{i}": i for i in range(num_labels)})
    torch.manual_seed(0)
    return transformers.ViTForImageClassification(config).eval()


def tiny_processor():
    return transformers.ViTImageProcessor(size={"height": 8, "width": 8}, image_mean=[0.5] * 3,
                                          image_std=[0.25] * 3)


@pytest.fixture
def saved(tmp_path):
    model, processor = tiny_model(), tiny_processor()
    files = hub.save_local_model(model, tmp_path / "local", processor)
    return model, processor, tmp_path / "local", files


class FakeModel:
    """Stands for a transformers class: records from_pretrained calls, fails where told."""
    calls = []
    fail = ()          # "hub", "cache": which kind of call raises OSError

    @classmethod
    def from_pretrained(cls, where, **kwargs):
        cls.calls.append((str(where), kwargs))
        kind = "cache" if kwargs.get("local_files_only") else "hub" if where == MODEL_ID else "local"
        if kind in cls.fail:
            raise OSError(f"fake {kind} failure")
        return ("model", kind)


class FakeProcessor:
    @classmethod
    def from_pretrained(cls, where, **kwargs):
        return ("processor", str(where))


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(FakeModel, "calls", [])
    monkeypatch.setattr(FakeModel, "fail", ())
    return FakeModel


# -- is the hub reachable? ---------------------------------------------------------------------

@pytest.mark.parametrize("var,value", [("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                                       ("HF_HUB_OFFLINE", "true"), ("TRANSFORMERS_OFFLINE", "YES")])
def test_offline_variables_mean_no_hub_and_no_probe(monkeypatch, var, value):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv(var, value)
    monkeypatch.setattr(hub, "_probe", lambda *a: pytest.fail("probed the network although offline"))
    assert hub.hub_status() == (False, f"{var}={value} is set")
    assert not hub.hub_available()


@pytest.mark.parametrize("value", ["0", "", "false"])
def test_offline_variable_set_to_false_still_probes(monkeypatch, value):
    calls = online(monkeypatch, _Response)
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert hub.hub_available() and len(calls) == 1


def test_probe_is_one_head_request_to_the_endpoint_cached_until_refresh(monkeypatch):
    calls = online(monkeypatch, _Response)
    monkeypatch.setenv("HF_ENDPOINT", "https://mirror.example/")
    assert hub.hub_status(timeout=1.5) == (True, "https://mirror.example answered")
    assert hub.hub_available() and hub.hub_available()
    assert calls == [("https://mirror.example", "HEAD", 1.5)]
    assert hub.hub_available(refresh=True) and len(calls) == 2


def test_an_http_error_answer_still_means_reachable(monkeypatch):
    def answer_404():
        raise urllib.error.HTTPError(hub.DEFAULT_ENDPOINT, 404, "Not Found", {}, None)

    online(monkeypatch, answer_404)
    assert hub.hub_status() == (True, "https://huggingface.co answered (HTTP 404)")


def test_no_network_means_no_hub_with_the_reason(monkeypatch):
    def no_dns():
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    calls = online(monkeypatch, no_dns)
    reachable, reason = hub.hub_status()
    assert not reachable and "huggingface.co cannot be reached" in reason and "Name or service" in reason
    assert not hub.hub_available() and len(calls) == 1            # the failure is cached too


def test_a_hanging_connection_never_blocks_longer_than_the_timeout(monkeypatch):
    release = threading.Event()
    online(monkeypatch, lambda: release.wait(60) and _Response())  # a DNS lookup that never returns
    start = time.perf_counter()
    reachable, reason = hub.hub_status(timeout=0.2)
    elapsed = time.perf_counter() - start
    release.set()
    assert not reachable and reason == "no answer from https://huggingface.co within 0.2 s"
    assert elapsed < 10.0, elapsed                                   # far below the 60 s hang, even on a loaded machine


@pytest.mark.parametrize("timeout", [0, -1, 61, "2", True, None, float("nan")])
def test_bad_timeout(timeout):
    with pytest.raises(ValueError, match="timeout must be a number of seconds"):
        hub.hub_status(timeout=timeout)


# -- saving -----------------------------------------------------------------------------------

def test_save_local_model_writes_safetensors_config_and_processor(saved):
    _, _, directory, files = saved
    assert [f.name for f in files] == ["config.json", "model.safetensors", "preprocessor_config.json"]
    assert all(f.parent == directory for f in files)
    assert hub.is_saved_model(directory)


def test_is_saved_model_needs_config_and_weights(tmp_path):
    assert not hub.is_saved_model(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{}")
    assert not hub.is_saved_model(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert hub.is_saved_model(tmp_path)


def test_save_local_model_bad_input(tmp_path):
    with pytest.raises(TypeError, match="expects a transformers model.*got Linear"):
        hub.save_local_model(torch.nn.Linear(2, 2), tmp_path)
    with pytest.raises(TypeError, match="processor must be a transformers processor.*got dict"):
        hub.save_local_model(tiny_model(), tmp_path, processor={})
    with pytest.raises(TypeError, match="directory must be a path"):
        hub.save_local_model(tiny_model(), None)


# -- loading offline: the real transformers code path ------------------------------------------

def test_offline_loads_the_local_model_through_from_pretrained(saved, capsys):
    model, processor, directory, _ = saved
    loaded = hub.load_pretrained(MODEL_ID, directory)
    assert loaded.source == "local"
    assert isinstance(loaded.model, transformers.ViTForImageClassification) and not loaded.model.training
    assert loaded.model.config.id2label == {0: "class0", 1: "class1", 2: "class2"}
    assert loaded.processor.to_dict() == processor.to_dict()              # size, mean, std, resampling
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded.model(pixel_values=x).logits, model(pixel_values=x).logits)
    out = capsys.readouterr().out
    assert out.strip() == loaded.message
    assert "HF_HUB_OFFLINE=1 is set" in loaded.message and MODEL_ID in loaded.message and str(directory) in loaded.message


def test_offline_passes_kwargs_so_a_new_head_can_be_put_on(saved):
    directory = saved[2]
    labels = {0: "a", 1: "b", 2: "c", 3: "d", 4: "e"}
    loaded = hub.load_pretrained(MODEL_ID, directory, processor=False, verbose=False, id2label=labels,
                                 label2id={v: k for k, v in labels.items()}, ignore_mismatched_sizes=True)
    assert loaded.processor is None and loaded.model.config.id2label == labels
    assert loaded.model.classifier.out_features == 5
    assert torch.equal(loaded.model.vit.embeddings.cls_token, saved[0].vit.embeddings.cls_token)


def test_offline_without_a_local_model_names_the_directory_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        hub.load_pretrained(MODEL_ID, tmp_path / "nothing_here")
    message = str(info.value)
    for part in ("HF_HUB_OFFLINE=1 is set", str(tmp_path / "nothing_here"), "save_local_model",
                 "notebooks/07_huggingface.ipynb"):
        assert part in message


def test_local_model_without_processor_config_is_a_clear_error(tmp_path):
    hub.save_local_model(tiny_model(), tmp_path)
    with pytest.raises(FileNotFoundError, match="no preprocessor_config.json.*processor=False"):
        hub.load_pretrained(MODEL_ID, tmp_path)
    assert hub.load_pretrained(MODEL_ID, tmp_path, processor=False, verbose=False).source == "local"


def test_offline_tries_the_hub_cache_first_without_network(saved):
    # nothing is cached in the test environment (HF_HUB_OFFLINE: no download either): the local model follows
    assert hub.load_pretrained("vitcourse/not-a-cached-model", saved[2], verbose=False).source == "local"


# -- the decision, with fakes (hub reachable or not) -------------------------------------------

def test_reachable_hub_loads_the_hub_checkpoint(monkeypatch, fake, tmp_path, capsys):
    monkeypatch.setattr(hub, "hub_status", lambda timeout: (True, "answered"))
    loaded = hub.load_pretrained(MODEL_ID, tmp_path / "unused", model_cls=fake, processor=FakeProcessor,
                                 num_labels=10, ignore_mismatched_sizes=True)
    assert loaded == (("model", "hub"), ("processor", MODEL_ID), "hub", loaded.message)
    assert fake.calls == [(MODEL_ID, {"num_labels": 10, "ignore_mismatched_sizes": True})]
    assert "from the Hugging Face Hub" in capsys.readouterr().out


def test_reachable_hub_that_fails_to_load_falls_back_saying_why(monkeypatch, fake, saved):
    monkeypatch.setattr(hub, "hub_status", lambda timeout: (True, "answered"))
    fake.fail = ("hub",)
    loaded = hub.load_pretrained(MODEL_ID, saved[2], model_cls=fake, processor=FakeProcessor, verbose=False)
    assert loaded.source == "local" and loaded.model == ("model", "local")
    assert "fake hub failure" in loaded.message and str(saved[2]) in loaded.message


def test_unreachable_hub_uses_the_cache_when_the_checkpoint_is_there(monkeypatch, fake, tmp_path):
    monkeypatch.setattr(hub, "hub_status", lambda timeout: (False, "no network"))
    loaded = hub.load_pretrained(MODEL_ID, tmp_path / "unused", model_cls=fake, processor=FakeProcessor,
                                 verbose=False)
    assert loaded.source == "hub cache" and loaded.model == ("model", "cache")
    assert fake.calls == [(MODEL_ID, {"local_files_only": True})] and "no network" in loaded.message


def test_unreachable_hub_not_cached_goes_local_and_use_cache_false_skips_the_cache(monkeypatch, fake, saved):
    monkeypatch.setattr(hub, "hub_status", lambda timeout: (False, "no network"))
    fake.fail = ("cache",)
    assert hub.load_pretrained(MODEL_ID, saved[2], model_cls=fake, processor=False, verbose=False).source == "local"
    assert [where for where, _ in fake.calls] == [MODEL_ID, str(saved[2])]
    fake.calls.clear()
    hub.load_pretrained(MODEL_ID, saved[2], model_cls=fake, processor=False, verbose=False, use_cache=False)
    assert fake.calls == [(str(saved[2]), {})]


def test_nothing_available_and_the_hub_failing_is_reported(monkeypatch, fake, tmp_path):
    monkeypatch.setattr(hub, "hub_status", lambda timeout: (True, "answered"))
    fake.fail = ("hub",)
    with pytest.raises(FileNotFoundError, match="fake hub failure"):
        hub.load_pretrained(MODEL_ID, tmp_path, model_cls=fake, processor=False)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(model_id=""), ValueError, "model_id must be a Hub repository id"),
    (dict(model_id=None), ValueError, "model_id must be a Hub repository id"),
    (dict(local_dir=None), TypeError, "local_dir must be a path"),
    (dict(local_dir=""), TypeError, "local_dir must be a path"),
    (dict(processor="yes"), TypeError, "processor must be True"),
    (dict(model_cls=torch.nn.Linear), TypeError, "model_cls must be a transformers model class"),
    (dict(local_files_only=True), ValueError, "local_files_only is decided by load_pretrained"),
    (dict(timeout=0), ValueError, "timeout must be a number"),
])
def test_load_pretrained_bad_input(tmp_path, kwargs, error, match):
    args = {"model_id": MODEL_ID, "local_dir": tmp_path, **kwargs}
    with pytest.raises(error, match=match):
        hub.load_pretrained(args.pop("model_id"), args.pop("local_dir"), **args)
