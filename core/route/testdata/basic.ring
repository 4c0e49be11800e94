# The walkthrough of doc.go: one group, node A has points 20.. and 80..,
# node B has 40...
#
# Syntax (see fixture_test.go):
#   backend <addr> <group> <id> [ro] <point>...
#   owner   <group> <key> <addr>/<id> | none
#   range   <addr> <group> <backend id> <start> <end>   (both inclusive)
#   share   <addr> <backend id> <group> <fraction>
# IDs are hex, right-padded with zeros (id.Parse), or zero / max, with an
# optional -1 or +1 suffix.
backend 127.0.0.1:1025 1 0 20 80
backend 127.0.0.1:1026 1 0 40

owner 1 zero 127.0.0.1:1025/0   # below the smallest point: wraps to 80..
owner 1 10   127.0.0.1:1025/0
owner 1 20-1 127.0.0.1:1025/0
owner 1 20   127.0.0.1:1025/0   # a key equal to a point belongs to it
owner 1 20+1 127.0.0.1:1025/0
owner 1 3f   127.0.0.1:1025/0
owner 1 40-1 127.0.0.1:1025/0
owner 1 40   127.0.0.1:1026/0
owner 1 80-1 127.0.0.1:1026/0
owner 1 80   127.0.0.1:1025/0
owner 1 max  127.0.0.1:1025/0
owner 2 20   none               # unknown group
owner 0 20   none

# A's wrap-around arc [zero, 20) and the arc of 20.. merge into one range.
range 127.0.0.1:1025 1 0 zero 40-1
range 127.0.0.1:1025 1 0 80   max
range 127.0.0.1:1026 1 0 40   80-1

share 127.0.0.1:1025 0 1 0.75
share 127.0.0.1:1026 0 1 0.25
share 127.0.0.1:1026 0 2 0
share 127.0.0.1:1027 0 1 0
