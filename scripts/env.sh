# shellcheck shell=bash
# The environment every make target, test and lab command runs in. Source it: `source scripts/env.sh`.
_aigw_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LAB_WORK=${LAB_WORK:-/var/tmp/aigateway-bifrost-lab}
export CONTAINERS_CONF=$LAB_WORK/containers.conf
export CONTAINERS_STORAGE_CONF=$LAB_WORK/storage.conf
export ANSIBLE_HOME=$_aigw_root/.cache/ansible-home
export ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_HOME/collections
export XDG_CACHE_HOME=$_aigw_root/.cache/xdg
export LAB_PYTHON=$_aigw_root/.venv/bin/python
export PATH=$_aigw_root/.venv/bin:$PATH
unset _aigw_root
