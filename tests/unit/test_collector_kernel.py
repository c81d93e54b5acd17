"""Reading the kernel's drop count of a socket from its /proc table."""

from ceilometer_ha.collector import kernel

_ROW = (
    "  {sl}: 0100007F:{port} 00000000:0000 07 00000000:00000000 "
    "00:00000000 00000000     0        0 {inode} 2 0000000000000000 {drops}"
)
TABLE = "\n".join(
    [
        "  sl  local_address rem_address   st tx_queue rx_queue tr "
        "tm->when retrnsmt   uid  timeout inode ref pointer drops",
        _ROW.format(sl=12, port="1359", inode=4242, drops=0),
        _ROW.format(sl=13, port="135A", inode=4343, drops=17),
    ]
)


def test_drops_are_read_by_inode():
    assert kernel.drops_in_table(TABLE, 4343) == 17
    assert kernel.drops_in_table(TABLE, 4242) == 0
    assert kernel.drops_in_table(TABLE, 99) is None
