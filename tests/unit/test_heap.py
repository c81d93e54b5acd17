"""freeze_startup_heap, run in a process of its own."""

import subprocess
import sys
import textwrap

# A cycle dropped before the call must be collected, not frozen (it
# would never be freed); what is alive is frozen; what comes later is
# collected as usual.
_SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from ceilometer_ha import heap

    gc.disable()  # only the collections asked for below

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    kept = Node()
    dropped = cycle()
    assert dropped() is not None
    heap.freeze_startup_heap()
    assert dropped() is None, "garbage frozen"
    assert gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects())
    later = cycle()
    gc.collect()
    assert later() is None, "objects made later not collected"
    print("ok")
    """
)


def test_garbage_collected_then_the_live_heap_frozen():
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
