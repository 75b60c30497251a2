# Builds one IPv4+TCP segment with consistent checksums and sends it through a raw socket (used by tcp-sequences.sh).
# usage: craft_tcp.py SRC SPORT DST DPORT FLAGS(S,A,F,R,P or -) SEQ ACK
import socket,struct,sys
def csum(b):
    if len(b)%2: b+=b"\0"
    s=sum(struct.unpack("!%dH"%(len(b)//2),b)); s=(s>>16)+(s&0xffff); s+=s>>16; return (~s)&0xffff
def tcp(src,sport,dst,dport,flags,seq,ack):
    fl={'F':1,'S':2,'R':4,'P':8,'A':16}
    f=sum(fl[c] for c in flags)
    hdr=struct.pack("!HHIIBBHHH",sport,dport,seq,ack,5<<4,f,65535,0,0)
    ph=struct.pack("!4s4sBBH",socket.inet_aton(src),socket.inet_aton(dst),0,6,len(hdr))
    c=csum(ph+hdr); hdr=hdr[:16]+struct.pack("!H",c)+hdr[18:]
    ip=struct.pack("!BBHHHBBH4s4s",0x45,0,20+len(hdr),1,0x4000,64,6,0,socket.inet_aton(src),socket.inet_aton(dst))
    return ip+hdr
src,sport,dst,dport,flags,seq,ack=sys.argv[1],int(sys.argv[2]),sys.argv[3],int(sys.argv[4]),sys.argv[5],int(sys.argv[6]),int(sys.argv[7])
s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW)
s.sendto(tcp(src,sport,dst,dport,"" if flags=="-" else flags,seq,ack),(dst,0))
