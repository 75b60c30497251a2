#!/bin/bash
# Reproduces the kernel observations behind TcpConntrackTests.KernelSequences (root, Linux; touches only the three
# namespaces it creates, named plt-<8 hex>, and deletes them by name at the end).
# Topology: client 10.1.0.2 -- router 10.1.0.1/10.2.0.1 (ip_forward, conntrack active) -- server 10.2.0.2.
# Both end hosts drop all input, so only the crafted segments flow; after each one the router's entry is printed as
# "STATE UNREPLIED|- ASSURED|- timeout". Input on stdin: "# name" lines, "c|s FLAGS SEQ ACK" lines (c = client sends,
# s = server sends; FLAGS from S A F R P), a blank line starts a new connection (next client port).
# usage: tests/PacketLife.Tests/Conntrack/Kernel/tcp-sequences.sh < sequences.txt
set -u
here=$(cd "$(dirname "$0")" && pwd)
C=plt-$(openssl rand -hex 4); R=plt-$(openssl rand -hex 4); S=plt-$(openssl rand -hex 4); trap 'for n in $C $R $S; do ip netns del $n 2>/dev/null; done' EXIT
for n in $C $R $S; do ip netns add $n; ip -n $n link set lo up; done
ip -n $C link add e0 type veth peer name r0 netns $R
ip -n $R link add r1 type veth peer name e0 netns $S
ip -n $C addr add 10.1.0.2/24 dev e0; ip -n $C link set e0 up; ip -n $C route add default via 10.1.0.1
ip -n $R addr add 10.1.0.1/24 dev r0; ip -n $R addr add 10.2.0.1/24 dev r1; ip -n $R link set r0 up; ip -n $R link set r1 up
ip -n $S addr add 10.2.0.2/24 dev e0; ip -n $S link set e0 up; ip -n $S route add default via 10.2.0.1
ip netns exec $R sysctl -q -w net.ipv4.ip_forward=1
ip netns exec $R iptables-legacy -A FORWARD -m conntrack --ctstate INVALID -j ACCEPT
for n in $C $S; do ip netns exec $n iptables-legacy -A INPUT -j DROP; done
port=41000
while read -r line; do
  if [[ -z "$line" ]]; then port=$((port+1)); continue; fi
  if [[ "$line" == \#* ]]; then echo "$line"; continue; fi
  read who flags seq ack <<<"$line"
  if [[ $who == c ]]; then ip netns exec $C python3 "$here/craft_tcp.py" 10.1.0.2 $port 10.2.0.2 80 $flags $seq $ack
  else ip netns exec $S python3 "$here/craft_tcp.py" 10.2.0.2 80 10.1.0.2 $port $flags $seq $ack; fi
  sleep 0.15
  st=$(ip netns exec $R conntrack -L -p tcp --sport $port 2>/dev/null | awk '{print $4, ($0 ~ /UNREPLIED/ ? "UNREPLIED" : "-"), ($0 ~ /ASSURED/ ? "ASSURED" : "-"), $3}')
  echo "$who $flags -> ${st:-NONE}"
done
