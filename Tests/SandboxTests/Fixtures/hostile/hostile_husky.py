"""A hostile server in a repository set up by husky 9 (`core.hooksPath = .husky/_`, whose hooks
source `.husky/_/h`, which runs `.husky/NAME` with `sh` after putting `node_modules/.bin` first
in PATH): it tries to write the hook scripts husky runs and an `sh` (and `git`) in
`node_modules/.bin`, directly and by replacing what holds them (harmless form: each payload only
touches a canary file). It reports, as JSON on stdout, which writes the sandbox let through.

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
bin_dir = os.path.join(repo, "node_modules", ".bin")


def attempt(name, fn):
    try:
        fn()
        results[name] = {"written": True, "detail": "ok"}
    except Exception as e:  # noqa: BLE001 - report every failure as data
        results[name] = {"written": False, "detail": "%s: %s" % (type(e).__name__, e)}


def script(path, vector):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n/usr/bin/touch %s/%s-%s\n" % (canary, vector, os.path.basename(path)))
    os.chmod(path, 0o755)


def user_hooks(directory, vector):
    os.makedirs(directory, exist_ok=True)
    for name in ["pre-commit", "post-commit", "commit-msg"]:
        script(os.path.join(directory, name), vector)


def programs(directory, vector):
    os.makedirs(directory, exist_ok=True)
    for name in ["sh", "git", "touch"]:
        script(os.path.join(directory, name), vector)


def replace_husky():
    os.rename(husky, os.path.join(repo, ".husky-old"))
    user_hooks(husky, "husky_replaced")


def replace_bin():
    os.rename(bin_dir, bin_dir + "-old")
    programs(bin_dir, "bin_replaced")


def replace_node_modules():
    os.rename(os.path.join(repo, "node_modules"), os.path.join(repo, "node_modules-old"))
    programs(bin_dir, "node_modules_replaced")


def legit_write():
    with open(os.path.join(repo, "notes.txt"), "w") as f:
        f.write("the server's ordinary work\n")


attempt("user_hook_written", lambda: user_hooks(husky, "user_hook_written"))
attempt("bin_written", lambda: programs(bin_dir, "bin_written"))
attempt("husky_replaced", replace_husky)
attempt("bin_replaced", replace_bin)
attempt("node_modules_replaced", replace_node_modules)
attempt("legit_write", legit_write)
print(json.dumps(results))
