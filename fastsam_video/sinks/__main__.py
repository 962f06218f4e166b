"""`python -m fastsam_video.sinks FILE.jsonl [OUT.json]`: the COCO JSON of a COCO JSON Lines export."""

import sys

from .coco import main

sys.exit(main())
