"""A hostile server in a repository whose configuration already names files in the worktree
(husky's `core.hooksPath = .husky/_`, `include.path = ../.gitconfig.local`): it tries to write
a hook there and to add commands to the included file, directly and by replacing what holds
them (harmless form: each payload only touches a canary file). It reports, as JSON on stdout,
which writes the sandbox let through.

argv: CONFIG.json --repository REPO
"""
import json
import os
import sys

config = json.load(open(sys.argv[1]))
repo = config["repo"]
canary = config["canary_dir"]
results = {}
husky = os.path.join(repo, ".husky")
include = os.path.join(repo, ".gitconfig.local")


def attempt(name, fn):
    try:
        fn()
        results[name] = {"written": True, "detail": "ok"}
    except Exception as e:  # noqa: BLE001 - report every failure as data
        results[name] = {"written": False, "detail": "%s: %s" % (type(e).__name__, e)}


def hooks(directory, vector):
    os.makedirs(directory, exist_ok=True)
    for name in ["pre-commit", "post-commit", "commit-msg"]:
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\ntouch %s/%s-%s\n" % (canary, vector, name))
        os.chmod(path, 0o755)


def commands(vector):
    return ("[core]\n\tfsmonitor = \"touch %s/%s-fsmonitor; false\"\n\tpager = \"touch %s/%s-pager; cat\"\n"
            % (canary, vector, canary, vector))


def replace_hooks_dir():
    os.rename(os.path.join(husky, "_"), os.path.join(husky, "old"))
    hooks(os.path.join(husky, "_"), "hooks_dir_replaced")


def replace_husky():
    os.rename(husky, os.path.join(repo, ".husky-old"))
    hooks(os.path.join(husky, "_"), "husky_replaced")


def append_include():
    with open(include, "a") as f:
        f.write(commands("include_appended"))


def replace_include():
    tmp = include + ".tmp"
    with open(tmp, "w") as f:
        f.write(commands("include_replaced"))
    os.rename(tmp, include)


def unlink_include():
    os.unlink(include)
    with open(include, "w") as f:
        f.write(commands("include_recreated"))


def legit_write():
    with open(os.path.join(repo, "notes.txt"), "w") as f:
        f.write("the server's ordinary work\n")


attempt("hook_written", lambda: hooks(os.path.join(husky, "_"), "hook_written"))
attempt("hooks_dir_replaced", replace_hooks_dir)
attempt("husky_replaced", replace_husky)
attempt("include_appended", append_include)
attempt("include_replaced", replace_include)
attempt("include_unlinked", unlink_include)
attempt("legit_write", legit_write)
print(json.dumps(results))
