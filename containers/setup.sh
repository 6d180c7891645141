#!/usr/bin/env bash
# Prepare this machine to validate recipes in containers, without any container registry:
#   1. install podman, buildah, runc and mmdebstrap (apt);
#   2. write the two podman settings this kind of VM needs to /etc/containers/containers.conf;
#   3. bootstrap base images from the Debian/Ubuntu mirrors (mmdebstrap | podman import);
#   4. with --build, build the validation images from containers/<env>/Dockerfile.
# Idempotent: every step is skipped when its result is already there; a validation image counts
# as there only while its fingerprint label matches what it is built from (changed -> rebuilt).
#
# Usage: containers/setup.sh [--no-install] [--build] [--rebuild] [ENV_ID ...]
#        (default environments: debian-12 ubuntu-24.04; ids come from data/environments.json)
#
# Exit codes (distinct so callers can tell what is missing):
#   0 ready   2 usage   10 not root   11 no working container engine / tools could not be installed
#   12 a package mirror is unreachable   13 archive keyring could not be verified
#   14 bootstrap or image build failed   15 environment is hosted-CI only (no local bootstrap)
set -euo pipefail

readonly E_USAGE=2 E_NOT_ROOT=10 E_ENGINE=11 E_MIRROR=12 E_KEYRING=13 E_BUILD=14 E_HOSTED=15
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
ENVIRONMENTS="$REPO/data/environments.json"
CACHE="${REGISTRY_AUTOMATION_CACHE:-/var/cache/registry-automation}"
CONF=/etc/containers/containers.conf
PY="$(command -v /usr/bin/python3 || command -v python3 || true)"

say() { printf '[setup-containers] %s\n' "$*" >&2; }
die() { local code=$1; shift; say "CANNOT: $*"; exit "$code"; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

install_tools=1 build=0 rebuild=0 envs=()
for arg in "$@"; do
  case "$arg" in
    --no-install) install_tools=0 ;;
    --build) build=1 ;;
    --rebuild) build=1 rebuild=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) say "unknown option $arg"; exit $E_USAGE ;;
    *) envs+=("$arg") ;;
  esac
done
[ ${#envs[@]} -gt 0 ] || envs=(debian-12 ubuntu-24.04)

[ "$(id -u)" -eq 0 ] || die $E_NOT_ROOT "must run as root (apt, /etc/containers and rootful podman)"
[ -n "$PY" ] || die $E_USAGE "python3 is needed to read $ENVIRONMENTS"

# One field of one environment, read from the single declaration in data/environments.json.
env_field() {
  "$PY" - "$ENVIRONMENTS" "$1" "$2" <<'PY'
import json, sys
path, env_id, field = sys.argv[1:4]
envs = {e["id"]: e for e in json.load(open(path, encoding="utf-8"))["environments"]}
if env_id not in envs:
    sys.exit(f"unknown environment {env_id!r}; known: {', '.join(envs)}")
value = envs[env_id]
for part in field.split("."):
    value = value.get(part) if isinstance(value, dict) else None
if isinstance(value, list):
    print("\n".join(value))
elif value is not None:
    print(str(value).lower() if isinstance(value, bool) else value)
PY
}

for env in "${envs[@]}"; do
  env_field "$env" id >/dev/null || exit $E_USAGE
done

# 1. Tools ------------------------------------------------------------------------------------
if [ "$install_tools" -eq 1 ]; then
  missing=()
  # curl: the mirror probe below (absent on minimal installs, where it read as "mirror unreachable").
  for tool in podman buildah runc mmdebstrap curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (apt)"
    # Unreachable third-party sources make `apt-get update` complain; the install below decides.
    apt-get update -qq >/dev/null 2>&1 || say "apt-get update reported errors (continuing)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      podman buildah runc mmdebstrap curl uidmap slirp4netns fuse-overlayfs ca-certificates >/dev/null \
      || die $E_ENGINE "apt-get install podman buildah runc mmdebstrap failed"
  else
    say "podman, buildah, runc and mmdebstrap already installed"
  fi
fi
command -v podman >/dev/null || die $E_ENGINE "podman is not installed (run without --no-install)"

# 2. Podman settings --------------------------------------------------------------------------
# Without them: "crun: setrlimit RLIMIT_NOFILE: Operation not permitted" and
# "crun: cgroups in hybrid mode not supported" (docs ENVIRONMENTS.md).
settings_present() {
  grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$CONF" 2>/dev/null &&
    grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=.*nofile' "$CONF" 2>/dev/null
}
if settings_present; then
  say "$CONF already has runtime=runc and default_ulimits"
elif [ ! -s "$CONF" ]; then
  mkdir -p "$(dirname "$CONF")"
  cat >"$CONF" <<'EOF'
# Written by registry-automation containers/setup.sh
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]

[engine]
runtime = "runc"
EOF
  say "wrote $CONF"
elif ! grep -Eq '^\[(containers|engine)\]' "$CONF"; then
  cp -p "$CONF" "$CONF.bak.$(date +%s)"
  printf '\n[containers]\ndefault_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]\n\n[engine]\nruntime = "runc"\n' >>"$CONF"
  say "appended the two settings to $CONF (backup beside it)"
else
  die $E_ENGINE "$CONF has its own [containers]/[engine] tables; add default_ulimits=[\"nofile=16384:16384\",\"nproc=16384:16384\"] and runtime=\"runc\" by hand"
fi
podman info >/dev/null 2>&1 || die $E_ENGINE "podman is installed but 'podman info' fails: $(podman info 2>&1 | tail -1)"

# 3. Ubuntu archive keyring -------------------------------------------------------------------
# Debian 12 does not package it; sid does. apt fetches sid's InRelease (verified with the host's
# debian-archive-keyring), then the .deb (verified against the signed Packages index).
UBUNTU_KEYRING="$CACHE/ubuntu-archive-keyring.gpg"
ubuntu_keyring() {
  [ -s "$UBUNTU_KEYRING" ] && { say "ubuntu keyring: $UBUNTU_KEYRING (cached)"; return 0; }
  local work="$CACHE/sid-apt"
  rm -rf "$work" && mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/deb"
  : >"$work/status"
  cat >"$work/sid.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local opts=(-o "Dir::Etc::SourceList=$work/sid.sources" -o "Dir::Etc::SourceParts=$work/none"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::status=$work/status"
    -o "Acquire::Languages=none" -o "APT::Get::List-Cleanup=false")
  apt-get "${opts[@]}" update -qq >"$work/update.log" 2>&1 ||
    { cat "$work/update.log" >&2; die $E_KEYRING "could not fetch or verify Debian sid's InRelease (see above)"; }
  (cd "$work/deb" && apt-get "${opts[@]}" download ubuntu-keyring >"$work/download.log" 2>&1) ||
    { cat "$work/download.log" >&2; die $E_KEYRING "could not download ubuntu-keyring from sid"; }
  dpkg-deb -x "$work"/deb/ubuntu-keyring_*.deb "$work/extract" ||
    die $E_KEYRING "could not unpack ubuntu-keyring"
  install -m 0644 "$work/extract/usr/share/keyrings/ubuntu-archive-keyring.gpg" "$UBUNTU_KEYRING"
  say "ubuntu keyring from $(basename "$work"/deb/*.deb), sha256 $(sha256sum "$UBUNTU_KEYRING" | cut -c1-64)"
}

# 4. Base images and validation images --------------------------------------------------------
mirror_reachable() {
  curl -fsS --max-time 20 -o /dev/null "$1/dists/$2/InRelease" 2>/dev/null
}

for env in "${envs[@]}"; do
  if [ "$(env_field "$env" hosted_only)" = "true" ]; then
    say "$env: hosted-CI only (no mirror reachable from here); skipped"
    [ ${#envs[@]} -eq 1 ] && exit $E_HOSTED
    continue
  fi
  image="$(env_field "$env" local_bootstrap.image)"
  if podman image exists "$image"; then
    say "$env: base image $image already exists"
  else
    suite="$(env_field "$env" local_bootstrap.suite)"
    mirror="$(env_field "$env" local_bootstrap.mirror)"
    mirror_reachable "$mirror" "$suite" || die $E_MIRROR "$env: $mirror/dists/$suite/InRelease is unreachable"
    keyring_opt=()
    if [ "$(env_field "$env" local_bootstrap.keyring)" = "ubuntu-archive-keyring" ]; then
      ubuntu_keyring
      keyring_opt=(--keyring="$UBUNTU_KEYRING")
    fi
    mapfile -t sources < <(env_field "$env" local_bootstrap.sources)
    components="$(env_field "$env" local_bootstrap.components | paste -sd, -)"
    include="$(env_field "$env" local_bootstrap.include | paste -sd, -)"
    include_opt=()
    [ -z "$include" ] || include_opt=(--include="$include")
    say "$env: bootstrapping $image from $mirror ($suite, $components)"
    start="$(now)"
    # pipefail makes a failed mmdebstrap fail the import too, so no half image is tagged.
    if ! mmdebstrap --quiet --variant="$(env_field "$env" local_bootstrap.variant)" --format=tar \
        --components="$components" "${include_opt[@]}" "${keyring_opt[@]}" "$suite" - "${sources[@]}" \
        | podman import --quiet --change 'CMD ["/bin/bash"]' - "$image" >/dev/null; then
      podman image rm -f "$image" >/dev/null 2>&1 || true
      die $E_BUILD "$env: mmdebstrap/podman import failed"
    fi
    say "$env: base image $image bootstrapped in $(took "$start")"
  fi
  if [ "$build" -eq 1 ]; then
    # Up to date = the image's fingerprint label equals the fingerprint of the Dockerfile, the
    # base image ID and the files it copies in; the rule lives in automation/containers/images.py
    # (stdlib only, so the system python3 runs it) and says on stderr why it (re)builds.
    rebuild_opt=()
    [ "$rebuild" -eq 0 ] || rebuild_opt=(--rebuild)
    PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m automation.containers.images ensure \
      --engine podman --name "$env" --tag "localhost/registry-automation/$env:latest" \
      --dockerfile "$HERE/$env/Dockerfile" --context "$HERE" --base "$image" --local \
      "${rebuild_opt[@]}" || die $E_BUILD "$env: podman build failed (see above)"
  fi
done
say "ready: ${envs[*]}"
