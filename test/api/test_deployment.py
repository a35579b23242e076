"""The Docker files as a user meets them: who the image runs as, whether the Dockerfile's own
`docker run` example starts a server, what the build stage compiles, and whether a stop leaves
the drain its time. scripts/test lints both files; these read what the lint cannot judge."""

import os
import re
import secrets
import shlex

import yaml

from conftest import DB_URL, REPO, http

SHUTDOWN_TIMEOUT_DEFAULT = "10s"  # README's configuration table and config/hourglass.env.example


def read(name):
    with open(os.path.join(REPO, name), encoding="utf-8") as f:
        return f.read()


def dockerfile_stages():
    """[(FROM line, [instruction lines, continuations joined])] in file order."""
    stages, lines, current = [], [], ""
    for raw in read("Dockerfile").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if line.endswith("\\"):
            continue
        lines.append(re.sub(r"\s+", " ", current).strip())
        current = ""
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        else:
            stages[-1][1].append(line)
    return stages


def seconds(text):
    """A duration as compose and hourglass write it: 15s, 1m30s, 500ms, or plain seconds."""
    total, pos = 0.0, 0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", str(text).strip()):
        assert m.start() == pos, "not a duration: %r" % text
        total += float(m.group(1)) * units[m.group(2) or "s"]
        pos = m.end()
    assert pos == len(str(text).strip()) and pos, "not a duration: %r" % text
    return total


def test_the_image_runs_as_user_and_group_10001():
    _, final = dockerfile_stages()[-1]
    assert "USER 10001:10001" in final, final
    run = " ".join(l for l in final if l.startswith("RUN "))
    # useradd --user-group would give the group the next free system gid (999), not 10001
    assert "--user-group" not in run, run
    group = re.search(r"groupadd\b[^&]*--gid 10001\b[^&]*\bhourglass\b", run)
    user = re.search(r"useradd\b[^&]*--uid 10001\b[^&]*--gid 10001\b[^&]*\bhourglass\b", run)
    assert group and user, run


def test_the_build_stage_compiles_the_server_only():
    build = [steps for line, steps in dockerfile_stages() if re.search(r"\bAS build\b", line, re.I)]
    assert build, "no build stage"
    ninja = [c for l in build[0] for c in re.findall(r"\bninja -C [^&]*", l)]
    assert ninja, build[0]
    for call in ninja:
        assert shlex.split(call)[-1] == "hourglass", "the unit tests are built too: %s" % call


def docker_run_example():
    comment = []
    for line in read("Dockerfile").splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    text = " ".join(comment).replace("\\ ", " ")
    m = re.search(r"docker run (.*?) hourglass\b", text)
    assert m, "no `docker run ... hourglass` example at the top of the Dockerfile"
    return shlex.split(m.group(1), posix=True)


def test_the_dockerfile_example_starts_a_server(make_server):
    """Only what the example and the image's ENV give: nothing from the test environment."""
    args = docker_run_example()
    given = {}
    for i, a in enumerate(args):
        if a == "-e":
            name, _, value = args[i + 1].partition("=")
            given[name] = value
    assert "DATABASE_URL" in given, args
    # the example's placeholders, filled in as its user would
    given["DATABASE_URL"] = DB_URL
    if "$(openssl rand -hex 32)" in given.get("JWT_SECRET", ""):
        given["JWT_SECRET"] = secrets.token_hex(32)
    _, final = dockerfile_stages()[-1]
    image_env = {}
    for line in final:
        if line.startswith("ENV "):
            image_env.update(dict(kv.split("=", 1) for kv in shlex.split(line[4:])))
    keep = ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LANG", "TMPDIR")
    env = {k: None for k in os.environ if k not in keep}
    env.update({k: None for k in ("MAIL_SERVER", "MAIL_PORT", "MAIL_STARTTLS", "MAIL_POLL_INTERVAL",
                                  "MAIL_RETRY_MAX", "WORKERS", "LOG_LEVEL")})
    env.update(image_env)
    env.update(given)
    env.pop("PORT", None)  # the test's own free port, where the image listens on 8000
    s = make_server(**env)
    assert http("GET", s.url + "/health")[0] == 200
    if "--stop-timeout" in args:
        assert seconds(args[args.index("--stop-timeout") + 1]) > seconds(SHUTDOWN_TIMEOUT_DEFAULT)


def test_compose_gives_the_drain_its_time():
    """Docker's default wait after SIGTERM equals SHUTDOWN_TIMEOUT's default: a full drain would
    be killed."""
    with open(os.path.join(REPO, "config", "hourglass.env.example"), encoding="utf-8") as f:
        assert re.search(r"^#?SHUTDOWN_TIMEOUT=%s$" % SHUTDOWN_TIMEOUT_DEFAULT, f.read(), re.M)
    service = yaml.safe_load(read("compose.yaml"))["services"]["hourglass"]
    drain = (service.get("environment") or {}).get("SHUTDOWN_TIMEOUT", SHUTDOWN_TIMEOUT_DEFAULT)
    grace = service.get("stop_grace_period")
    assert grace, "no stop_grace_period: Docker waits 10 s"
    assert seconds(grace) > seconds(drain), (grace, drain)
