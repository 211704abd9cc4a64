# Sourced by the test scripts that run programs in the background.

# Waits until fewer than $1 of this shell's background jobs are running.
wait_for_slot() {
    while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do
        wait -n || true
    done
}
