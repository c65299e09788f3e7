"""The sandbox: which one is used, the commands that start it, the package tree it sees, and the
refusal to grade without one unless --unsafe-no-sandbox is given by name."""
import csv
import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from vitcourse.grading import guard, isolation, pkgtree
from vitcourse.grading.assignments import get_assignment
from vitcourse.grading.cli import main
from vitcourse.grading.grade import grade_all
from vitcourse.grading.sandbox import Limits

from test_grading_hostile import NEEDS_BWRAP

ROOT = Path(__file__).resolve().parents[1]
STATS = ("def token_stats(image_size, patch_size, dim, in_channels=1):\n    n = (image_size // patch_size) ** 2\n"
         "    return {'num_tokens': n, 'attention_entries': n * n,\n"
         "            'embed_params': patch_size ** 2 * in_channels * dim + dim + n * dim}\n")


def test_package_tree_holds_no_reference_module(tmp_path):
    tree = pkgtree.build(tmp_path, get_assignment("tp1").allowed_vitcourse)
    names = set(pkgtree.modules(tree))
    assert {"vitcourse.data", "vitcourse.train", "vitcourse.viz", "vitcourse.measure", "vitcourse.grading.child",
            "vitcourse.grading.selfcheck"} <= names
    assert not names & {"vitcourse.patches", "vitcourse.pos_embed", "vitcourse.attention", "vitcourse.blocks",
                        "vitcourse.vit", "vitcourse.grading.local", "vitcourse.grading.reference"}
    measure = (tree / "measure.py").read_text()
    assert "def time_callable" in measure and "token_costs" not in measure      # only the allowed function
    assert "import" not in (tree / "__init__.py").read_text()
    rescue = pkgtree.build(tmp_path / "r", get_assignment("tp2").allowed_vitcourse, ("vitcourse.blocks",))
    assert {"vitcourse.blocks", "vitcourse.attention", "vitcourse.patches"} <= set(pkgtree.modules(rescue))


def test_import_blocker_refuses_what_is_not_in_the_tree():
    blocker = guard.ReferenceBlocker(["vitcourse.data"])
    assert blocker.find_spec("vitcourse.data") is None and blocker.find_spec("numpy") is None
    with pytest.raises(ModuleNotFoundError, match="reference implementation is not available to graded code"):
        blocker.find_spec("vitcourse.pos_embed")


def test_bwrap_command_mounts_only_what_the_child_needs(tmp_path):
    cmd = isolation.bwrap_command(["python"], package_dir=pkgtree.PACKAGE, tree=tmp_path, job_dir=tmp_path,
                                  protected=[ROOT / "solutions"])
    text = " ".join(cmd)
    for flag in ("--unshare-all --unshare-user --uid 65534 --gid 65534 --disable-userns --cap-drop ALL",
                 "--new-session", "--die-with-parent", "--tmpfs /tmp", "--tmpfs /dev/shm", "--proc /proc"):
        assert flag in text
    binds = [cmd[i + 2] for i, a in enumerate(cmd) if a in ("--bind", "--ro-bind", "--dev-bind")]
    assert "--bind" not in cmd and "--dev-bind" not in cmd                    # nothing writable from the host
    assert str(ROOT) not in binds and not any(b.startswith(str(ROOT / "solutions")) for b in binds)
    assert str(pkgtree.PACKAGE) in binds and isolation.JOB in binds


def test_older_bubblewrap_without_disable_userns(tmp_path, monkeypatch):
    """bubblewrap 0.6 (Ubuntu 22.04) lacks --disable-userns: the rest of the command is unchanged."""
    monkeypatch.setattr(isolation, "bwrap_has", lambda option: False)
    cmd = isolation.bwrap_command(["python"], package_dir=pkgtree.PACKAGE, tree=tmp_path, job_dir=tmp_path)
    assert "--disable-userns" not in cmd and "--cap-drop" in cmd and "--unshare-all" in cmd


def test_mounts_may_not_overlap_protected_folders(tmp_path):
    with pytest.raises(isolation.SandboxUnavailable, match="overlaps the protected folder"):
        isolation.check_mounts([tmp_path], [tmp_path / "solutions"])
    isolation.check_mounts([tmp_path / "a"], [tmp_path / "b"])


def test_container_command_has_the_same_guarantees(tmp_path):
    cmd = isolation.container_command("podman", "course:1", ["python", "x"], name="n", tree=tmp_path,
                                      job_dir=tmp_path, env={"A": "1"}, memory_mb=512)
    text = " ".join(cmd)
    for flag in ("--rm", "--network none", "--read-only", "--cap-drop ALL", "--security-opt no-new-privileges",
                 "--user 65534:65534", "--pids-limit", "--memory", "--cpus", "--tmpfs /tmp:rw,size="):
        assert flag in text
    assert cmd[-3:] == ["course:1", "python", "x"] and ":ro" in cmd[cmd.index("-v") + 1]
    with pytest.raises(isolation.SandboxUnavailable, match="needs --image"):
        isolation.container_command("docker", "", [], name="n", tree="t", job_dir="j", env={}, memory_mb=1)


FAKE = r'''#!{python}
"""A stand-in for docker: logs its arguments and answers like the child would (every test 'missing')."""
import json, sys
args = sys.argv[1:]
open({log!r}, "a").write(json.dumps(args) + "\n")
if args[0] != "run":
    sys.exit(0)
mounts = dict(a.split(":")[1::-1][:2] for a in (args[i + 1] for i, x in enumerate(args) if x == "-v"))
job_file = args[-2]
for inside, outside in mounts.items():
    job_file = job_file.replace(inside, outside)
job = json.load(open(job_file))
print(json.dumps({{"event": "ready"}}))
for t in job["tests"]:
    print(json.dumps({{"event": "result", "name": t["name"], "missing": t["graded"]}}))
print(json.dumps({{"event": "done", "printed": 0, "blocked": []}}))
'''


def test_grading_through_a_container_runtime(tmp_path, monkeypatch):
    """docker is not installed on CI: a fake runtime checks the command and the record stream on stdout."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.jsonl"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(FAKE.format(python=sys.executable, log=str(log)))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ana.py").write_text(STATS)
    results = grade_all("tp1", subs, tmp_path / "out", limits=Limits(isolate="docker", image="course:1", timeout=10))
    call = json.loads(log.read_text().splitlines()[0])
    assert call[:2] == ["run", "--rm"] and "--network" in call and "course:1" in call
    assert results[0].isolation.startswith("docker container") and results[0].tests["token_stats"].points == 0
    assert "does not define `token_stats`" in results[0].tests["token_stats"].checks[0].message


def test_no_sandbox_means_no_grading_unless_asked_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(isolation, "bwrap_works", lambda: False)
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ana.py").write_text(STATS)
    with pytest.raises(isolation.SandboxUnavailable, match="install bubblewrap"):
        grade_all("tp1", subs, tmp_path / "o1")
    assert not (tmp_path / "o1").exists()                                      # refused before anything ran
    assert main(["grade", "tp1", str(subs), "--out", str(tmp_path / "o2")]) == 2
    assert "--unsafe-no-sandbox" in capsys.readouterr().err
    assert main(["grade", "tp1", str(subs), "--out", str(tmp_path / "o3"), "--unsafe-no-sandbox", "--timeout", "20"]) == 0
    out, err = capsys.readouterr()
    assert "WARNING: --unsafe-no-sandbox" in err and "isolation: NONE: unsafe-no-sandbox" in out
    with open(tmp_path / "o3" / "gradebook.csv") as f:
        row = next(csv.DictReader(f))
    assert row["token_stats"] == "1" and row["isolation"].startswith("NONE")


def test_empty_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "notes.txt").write_text("x")
    assert main(["grade", "tp1", str(tmp_path / "subs"), "--out", str(tmp_path / "o")]) == 2
    assert "no submissions in" in capsys.readouterr().err


@NEEDS_BWRAP
def test_bwrap_child_is_unprivileged_even_when_the_grader_is_root(tmp_path):
    """Capabilities 0, uid 65534, mount/umount refused, no nested user namespace, the host's processes invisible."""
    src = textwrap.dedent('''
        import ctypes, os
        def token_stats(image_size, patch_size, dim, in_channels=1):
            libc = ctypes.CDLL(None, use_errno=True)
            caps = [l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1]
            n = (int(caps, 16) != 0) + 2 * (libc.umount2(b"/usr", 2) == 0) + 4 * (libc.unshare(0x10000000) == 0) \\
                + 8 * (libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0) + 16 * (os.getuid() != 65534) \\
                + 32 * (len([p for p in os.listdir("/proc") if p.isdigit()]) > 4)
            return {"num_tokens": n, "attention_entries": 0, "embed_params": 0}
    ''')
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "probe.py").write_text(src)
    results = grade_all("tp1", subs, tmp_path / "o", limits=Limits(isolate="bwrap", timeout=20))
    assert results[0].isolation.startswith("bubblewrap")
    messages = " ".join(c.message for c in results[0].tests["token_stats"].checks)
    assert "num_tokens for" in messages and "got 0" in messages, messages
