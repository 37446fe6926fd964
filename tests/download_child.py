"""`finebench ARGS…` in a child process whose source table is the one in a JSON file (the loopback
server's addresses): how the download tests run the real command where a monkeypatch cannot reach.

    python tests/download_child.py SOURCES.json download --datasets pet --to DIR
"""

import json
import sys

from finebench.cli import main
from finebench.data import sources

if __name__ == "__main__":
    sources.SOURCES = tuple(sources.SourceFile(**fields) for fields in json.loads(open(sys.argv[1]).read()))
    sys.exit(main(sys.argv[2:]))
