import sys

from finebench.cli import main

sys.exit(main())
