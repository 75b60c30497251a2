using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace PacketLife.Lab.Agent;

/// <summary>The packet agent: runs inside one lab namespace (started as `ip netns exec NS dotnet packetlife.dll lab
/// agent`) and serves JSON lines on stdin/stdout (<see cref="AgentRequest"/> → <see cref="AgentResponse"/>): send a
/// crafted IPv4 packet through a raw IP_HDRINCL socket (any source, flags, TTL), capture what passes, listen on a
/// port. It exits when stdin closes, so it never outlives the process that drives it.</summary>
public sealed class PacketAgent : IDisposable
{
    private readonly Socket _send = new(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw); // IPPROTO_RAW implies IP_HDRINCL (raw(7))
    private readonly List<IDisposable> _listeners = [];
    private readonly CancellationTokenSource _cts = new();
    private PacketCapture? _capture;
    private ushort _ipId = 1;

    /// <summary>Serves requests until `quit` or end of input. Returns the process exit code.</summary>
    public int Run(TextReader input, TextWriter output)
    {
        string? line;
        while ((line = input.ReadLine()) is not null)
        {
            if (line.Length == 0) continue;
            AgentResponse response;
            bool quit = false;
            try
            {
                var req = JsonSerializer.Deserialize(line, AgentWireJson.Default.AgentRequest) ?? throw new FormatException("empty request");
                quit = req.Op == "quit";
                response = Handle(req);
            }
            catch (Exception e) when (e is FormatException or JsonException or SocketException or IOException or ArgumentException or OverflowException)
            {
                response = new AgentResponse(false, e.Message);
            }
            output.WriteLine(JsonSerializer.Serialize(response, AgentWireJson.Default.AgentResponse));
            output.Flush();
            if (quit) break;
        }
        return 0;
    }

    private AgentResponse Handle(AgentRequest req)
    {
        switch (req.Op)
        {
            case "ping":
            case "quit":
                return new AgentResponse(true);
            case "send":
                var wire = req.Packet ?? throw new FormatException("send needs a packet");
                var p = wire.ToPacket();
                var bytes = RawPacket.Build(p, _ipId++, wire.Seq, wire.Ack);
                // Reading SO_ERROR clears an error an earlier packet's ICMP answer left on the socket (raw(7): a
                // "fatal" ICMP error such as host-prohibited is queued as sk_err), so it is not blamed on this one.
                _send.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error);
                try
                {
                    _send.SendTo(bytes, new IPEndPoint(p.Dst.ToIPAddress(), 0));
                }
                catch (SocketException e)
                {
                    // The kernel's verdict on a locally sent packet, not an agent failure: a DROP in OUTPUT gives EPERM,
                    // no route gives ENETUNREACH.
                    return new AgentResponse(true, SendError: $"{e.SocketErrorCode}: {e.Message}");
                }
                return new AgentResponse(true);
            case "capture":
                _capture?.Dispose();
                _capture = new PacketCapture();
                _capture.Start(req.Local);
                return new AgentResponse(true);
            case "collect":
                var seen = _capture?.Collect(req.QuietMs, req.MaxMs) ?? throw new FormatException("collect before capture");
                return new AgentResponse(true, Seen: seen.Select(ToWire).ToList());
            case "listen":
                Listen(req.Proto ?? "tcp", req.Port);
                return new AgentResponse(true);
            case "unlisten":
                foreach (var l in _listeners) l.Dispose();
                _listeners.Clear();
                return new AgentResponse(true);
            default:
                throw new FormatException($"unknown op \"{req.Op}\" (ping, send, capture, collect, listen, unlisten, quit)");
        }
    }

    private void Listen(string proto, int port)
    {
        if (proto == "udp")
        {
            var u = new UdpClient(new IPEndPoint(IPAddress.Any, port));
            _listeners.Add(u);
            _ = Task.Run(async () =>
            {
                try { while (!_cts.IsCancellationRequested) await u.ReceiveAsync(_cts.Token); }
                catch (Exception e) when (e is ObjectDisposedException or SocketException or OperationCanceledException) { }
            });
            return;
        }
        var l = new TcpListener(IPAddress.Any, port);
        l.Start();
        _listeners.Add(new ListenerHandle(l));
        _ = Task.Run(async () =>
        {
            try
            {
                while (!_cts.IsCancellationRequested)
                {
                    using var c = await l.AcceptTcpClientAsync(_cts.Token);
                }
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException or OperationCanceledException or InvalidOperationException) { }
        });
    }

    private static WireSeen ToWire(SeenPacket s) =>
        new(s.Interface, s.Direction.ToString().ToLowerInvariant(), WirePacket.From(s.Packet), s.Quoted is null ? null : WirePacket.From(s.Quoted));

    private sealed class ListenerHandle(TcpListener l) : IDisposable
    {
        public void Dispose() => l.Stop();
    }

    public void Dispose()
    {
        _cts.Cancel();
        _capture?.Dispose();
        foreach (var l in _listeners) l.Dispose();
        _send.Dispose();
    }
}
