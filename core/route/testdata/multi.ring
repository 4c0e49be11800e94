# Two nodes with several backends each, in three groups; a point at zero, a
# point at max, a single-point group and a read-only backend.
backend 10.0.0.1:1025 1 0 zero 40
backend 10.0.0.1:1025 1 1 80
backend 10.0.0.2:1025 1 0 c0
backend 10.0.0.2:1025 2 1 ro 55
backend 10.0.0.1:1025 3 2 max
backend 10.0.0.2:1025 3 2 zero

owner 1 zero 10.0.0.1:1025/0    # the point at zero owns zero: no wrap
owner 1 7f   10.0.0.1:1025/0
owner 1 80   10.0.0.1:1025/1
owner 1 c0-1 10.0.0.1:1025/1
owner 1 c0   10.0.0.2:1025/0
owner 1 max  10.0.0.2:1025/0
owner 2 zero 10.0.0.2:1025/1    # a single point owns the whole ring
owner 2 55-1 10.0.0.2:1025/1
owner 2 55   10.0.0.2:1025/1
owner 2 max  10.0.0.2:1025/1
owner 3 zero 10.0.0.2:1025/2
owner 3 max-1 10.0.0.2:1025/2
owner 3 max  10.0.0.1:1025/2    # the point at max owns max alone
owner 4 zero none

range 10.0.0.1:1025 1 0 zero 80-1
range 10.0.0.1:1025 1 1 80   c0-1
range 10.0.0.1:1025 3 2 max  max
range 10.0.0.2:1025 1 0 c0   max
range 10.0.0.2:1025 2 1 zero max
range 10.0.0.2:1025 3 2 zero max-1

share 10.0.0.1:1025 0 1 0.5
share 10.0.0.1:1025 1 1 0.25
share 10.0.0.2:1025 0 1 0.25
share 10.0.0.2:1025 1 2 1
share 10.0.0.1:1025 2 3 7.458340731200207e-155   # 2^-512: one ID
share 10.0.0.2:1025 2 3 1                         # 1 - 2^-512 rounds to 1
share 10.0.0.1:1025 0 2 0                         # not in that group
