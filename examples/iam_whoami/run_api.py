"""iam in one run, whoami in a second run of the same Kernel object.

    python3 run_api.py ./iam ./whoami lizhijun
"""

import sys

import sysgate
from who import install

if __name__ == "__main__":
    iam, whoami, name = sys.argv[1:4]
    kernel = sysgate.Kernel()
    install(kernel)
    first = sysgate.run([iam, name], kernel=kernel, capture_output=True)
    second = sysgate.run([whoami], kernel=kernel, capture_output=True)
    sys.stdout.buffer.write(first.stdout + second.stdout)
    sys.exit(first.returncode or second.returncode)
