# Sourced by scripts/dev and scripts/test: installs what a fresh Debian machine
# lacks, and nothing it already has. Each `ensure_*` is a no-op when its tool
# is present.

SCHEMATHESIS_VERSION=4.32.5

# apt-get as root, or through sudo for a normal user.
apt_install() {
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "installing $* (Debian packages)" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL server binaries (initdb, postgres), and setpriv, with which
# pg-local drops root to the `postgres` user.
ensure_postgres() {
    if ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
        apt_install postgresql
    fi
    command -v setpriv >/dev/null 2>&1 || apt_install util-linux
}

# Headless Chromium for the demo page's end-to-end test.
ensure_chromium() {
    command -v chromium >/dev/null 2>&1 || apt_install chromium
}

# nginx, started by the tests in front of a real edge with deploy/nginx.conf.
ensure_nginx() {
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_install nginx
}

# schemathesis (PyPI), run by the tests against a live edge's OpenAPI document.
ensure_schemathesis() {
    if ! command -v schemathesis >/dev/null 2>&1; then
        echo "installing schemathesis $SCHEMATHESIS_VERSION (PyPI)" >&2
        python3 -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
        # pyenv puts new commands on PATH only through its shims.
        if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
    fi
}
