"""What the driver's feed server and the Spark source agree on; imports nothing.

Its own module so that Spark's Python processes, which import the source, do not
import the server (``http.server`` pulls in ``email``, ``html``, ...).
"""

from __future__ import annotations

HOST = "127.0.0.1"
KEY_HEADER = "X-Lakeport-Queue-Key"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
