import sys

from fileproto.cli import main

sys.exit(main())
