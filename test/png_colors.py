#!/usr/bin/env python3
"""png_colors.py PNG HEX...: count the pixels of each colour (within a small
tolerance) in an 8-bit RGB/RGBA, non-interlaced PNG, and the pixels that are
not background (#ffffff or #f4f6f8). Standard library only (zlib), so the
screenshot test needs no image package. Prints 'HEX COUNT' lines and
'nonbackground COUNT'."""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise SystemExit('not a PNG: ' + path)
    pos, idat, width = 8, b'', None
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b'IHDR':
            width, height, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise SystemExit('unsupported PNG layout')
            bpp = 3 if ctype == 2 else 4
        elif kind == b'IDAT':
            idat += body
        elif kind == b'IEND':
            break
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 255
            elif ftype == 2:
                line[x] = (line[x] + b) & 255
            elif ftype == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    width, height, bpp, rows = read_png(sys.argv[1])
    wanted = [(h, tuple(int(h[j:j + 2], 16) for j in (1, 3, 5))) for h in sys.argv[2:]]
    counts = {h: 0 for h, _ in wanted}
    background = {(255, 255, 255), (0xf4, 0xf6, 0xf8)}
    other = 0
    for row in rows:
        for x in range(0, width * bpp, bpp):
            px = (row[x], row[x + 1], row[x + 2])
            if px not in background:
                other += 1
            for h, rgb in wanted:
                if abs(px[0] - rgb[0]) <= 6 and abs(px[1] - rgb[1]) <= 6 and abs(px[2] - rgb[2]) <= 6:
                    counts[h] += 1
    for h, _ in wanted:
        print(h, counts[h])
    print('nonbackground', other)


main()
