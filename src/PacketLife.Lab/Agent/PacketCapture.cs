using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using PacketLife.Core.Net;

namespace PacketLife.Lab.Agent;

/// <summary>Captures every IPv4 packet on every interface of the current network namespace with an AF_PACKET
/// socket (packet(7): SOCK_DGRAM gives the packet from its IP header, sll_pkttype says whether it was outgoing),
/// and optionally what the local stack delivers (raw(7) sockets get a copy of each locally delivered packet of their
/// protocol, after the INPUT hook). P/Invoke because .NET has no AF_PACKET endpoint type.</summary>
public sealed unsafe partial class PacketCapture : IDisposable
{
    private const int AF_PACKET = 17, SOCK_DGRAM = 2, ETH_P_ALL = 0x0003, ETH_P_IP = 0x0800, SOL_SOCKET = 1, SO_RCVTIMEO = 20;
    private const byte PACKET_OUTGOING = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLen;
        public ulong Addr;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeVal { public long Sec; public long Usec; }

    [LibraryImport("libc", SetLastError = true)] private static partial int socket(int domain, int type, int protocol);
    [LibraryImport("libc", SetLastError = true)] private static partial int setsockopt(int fd, int level, int name, void* value, uint len);
    [LibraryImport("libc", SetLastError = true)] private static partial nint recvfrom(int fd, byte* buf, nuint len, int flags, SockaddrLl* from, uint* fromLen);
    [LibraryImport("libc", SetLastError = true)] private static partial int close(int fd);
    [LibraryImport("libc")] private static partial byte* if_indextoname(uint index, byte* name);

    private readonly object _gate = new();
    private readonly List<SeenPacket> _seen = [];
    private readonly List<Thread> _threads = [];
    private readonly List<Socket> _rawSockets = [];
    private readonly Dictionary<int, string> _names = [];
    private volatile bool _stop;
    private int _fd = -1;
    private long _lastActivity = Environment.TickCount64;

    /// <summary>Opens the sockets; from then on every packet is recorded until <see cref="Dispose"/>.</summary>
    public void Start(bool local)
    {
        // ETH_P_ALL, not ETH_P_IP: only ptype_all taps see outgoing packets (dev_queue_xmit_nit); IPv4 is picked below.
        _fd = socket(AF_PACKET, SOCK_DGRAM, BinaryPrimitives.ReverseEndianness((ushort)ETH_P_ALL));
        if (_fd < 0) throw new IOException($"AF_PACKET socket failed (errno {Marshal.GetLastPInvokeError()}); the agent needs root");
        var tv = new TimeVal { Sec = 0, Usec = 50_000 };
        setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, (uint)sizeof(TimeVal));
        StartThread("capture", PacketLoop);
        if (!local) return;
        foreach (var proto in new[] { ProtocolType.Tcp, ProtocolType.Udp, ProtocolType.Icmp })
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Raw, proto) { ReceiveTimeout = 50 };
            s.Bind(new IPEndPoint(IPAddress.Any, 0));
            _rawSockets.Add(s);
            StartThread($"local-{proto}", () => LocalLoop(s));
        }
    }

    /// <summary>Returns and forgets what was seen, once nothing new arrived for <paramref name="quietMs"/>
    /// (at most <paramref name="maxMs"/> after the call).</summary>
    public List<SeenPacket> Collect(int quietMs, int maxMs)
    {
        long start = Environment.TickCount64;
        while (true)
        {
            long now = Environment.TickCount64;
            long last = Math.Max(Interlocked.Read(ref _lastActivity), start);
            if (now - last >= quietMs || now - start >= maxMs) break;
            Thread.Sleep(2);
        }
        lock (_gate)
        {
            var r = _seen.ToList();
            _seen.Clear();
            return r;
        }
    }

    private void StartThread(string name, Action loop)
    {
        var t = new Thread(() => loop()) { IsBackground = true, Name = name };
        _threads.Add(t);
        t.Start();
    }

    private void PacketLoop()
    {
        var buf = new byte[65536];
        while (!_stop)
        {
            SockaddrLl from;
            uint fromLen = (uint)sizeof(SockaddrLl);
            nint n;
            fixed (byte* p = buf) n = recvfrom(_fd, p, (nuint)buf.Length, 0, &from, &fromLen);
            if (n <= 0) continue; // timeout (EAGAIN) lets the loop see _stop
            if (from.Protocol != BinaryPrimitives.ReverseEndianness((ushort)ETH_P_IP)) continue; // ARP and others
            if (!RawPacket.TryParse(buf.AsSpan(0, (int)n), out var packet, out var quoted)) continue;
            var dir = from.PktType == PACKET_OUTGOING ? PacketDirection.Out : PacketDirection.In;
            Add(new SeenPacket(Name(from.IfIndex), dir, packet, quoted));
        }
    }

    private void LocalLoop(Socket s)
    {
        var buf = new byte[65536];
        while (!_stop)
        {
            int n;
            try { n = s.Receive(buf); }
            catch (SocketException) { continue; }
            catch (ObjectDisposedException) { return; }
            if (RawPacket.TryParse(buf.AsSpan(0, n), out var packet, out var quoted))
                Add(new SeenPacket("local", PacketDirection.Local, packet, quoted));
        }
    }

    private void Add(SeenPacket p)
    {
        lock (_gate) _seen.Add(p);
        Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
    }

    private string Name(int ifIndex)
    {
        lock (_names)
        {
            if (_names.TryGetValue(ifIndex, out var n)) return n;
            var buf = stackalloc byte[16];
            var r = if_indextoname((uint)ifIndex, buf);
            n = r == null ? $"if{ifIndex}" : Encoding.ASCII.GetString(buf, new ReadOnlySpan<byte>(buf, 16).IndexOf((byte)0) is var z and >= 0 ? z : 16);
            _names[ifIndex] = n;
            return n;
        }
    }

    public void Dispose()
    {
        _stop = true;
        foreach (var t in _threads) t.Join(500);
        foreach (var s in _rawSockets) s.Dispose();
        if (_fd >= 0) close(_fd);
        _fd = -1;
    }
}
