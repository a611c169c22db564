"""Demo and test aids, kept out of the production path: seed data (`seed`), the demo laptop's kit (`laptop`),
demo crossings (`crossings`) and the synthetic camera video (`frames`, the only module needing OpenCV/numpy,
from the `demo` extra).

`checkpass demo` and the tests import these modules; nothing else in the server does.
"""
