# Installs the Debian 12 packages tapegrad needs that are missing. Sourced by
# the quick-start scripts; works as root and through sudo, and does nothing
# when everything is present.
tapegrad_install_deps() {
    local packages="gcc make cmake pkg-config libblis-dev libpng-dev libjansson-dev libcriterion-dev $*"
    local missing=""
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "need root (or sudo) to install:$missing" >&2; return 1; }
        sudo="sudo"
    fi
    echo "Installing:$missing"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
