# Shared by scripts/demo, scripts/test and the benchmarks: install what Bosun needs on Debian 12.
# shellcheck shell=bash

bosun_install_dependencies() {
    local packages=(libssh-dev openssh-server openssh-client libsqlite3-dev sqlite3 pkg-config python3 git procps iproute2 iptables)
    local missing=()
    for package in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing: ${missing[*]}" >&2
        if [ "$(id -u)" -ne 0 ]; then
            echo "error: missing packages (${missing[*]}); run as root or install them first" >&2
            return 1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then
            export PATH="/opt/swift/usr/bin:$PATH"
        else
            echo "error: the Swift 6 toolchain is not on PATH (swift.org/install, then retry)" >&2
            return 1
        fi
    fi
}
