using System.Text.Json;
using PacketLife.Core.Diagnostics;
using PacketLife.Core.Net;

namespace PacketLife.Lab.Agent;

/// <summary>Drives one packet agent in one lab namespace. Requests are answered in order, one line each.
/// Starting costs one .NET start-up (a few hundred ms), so a test run keeps one agent per namespace.</summary>
public sealed class AgentClient : IDisposable
{
    private readonly LabProcess _process;
    private readonly TimeSpan _timeout;

    private AgentClient(LabProcess process, TimeSpan timeout)
    {
        _process = process;
        _timeout = timeout;
    }

    public string Namespace => _process.Namespace;

    public int Pid => _process.Pid;

    /// <summary>Starts `dotnet AGENTDLL lab agent` in <paramref name="ns"/> and waits for it to answer a ping.</summary>
    /// <param name="agentDll">Path of packetlife.dll (the App assembly), whose hidden `lab agent` verb runs
    /// <see cref="PacketAgent"/>.</param>
    public static AgentClient Start(LabRunner runner, string ns, string agentDll, TimeSpan? timeout = null)
    {
        var p = runner.Start(ns, ["dotnet", agentDll, "lab", "agent"]);
        var c = new AgentClient(p, timeout ?? TimeSpan.FromSeconds(15));
        c.Call(new AgentRequest("ping"), TimeSpan.FromSeconds(60));
        return c;
    }

    /// <summary>Sends a crafted packet; returns the error sendto(2) gave (the kernel refused it locally), or null.</summary>
    public string? Send(Packet packet, uint seq = 1000, uint ack = 0) =>
        Call(new AgentRequest("send", WirePacket.From(packet, seq, ack))).SendError;

    public void StartCapture(bool local) => Call(new AgentRequest("capture", Local: local));

    public IReadOnlyList<SeenPacket> Collect(int quietMs = 15, int maxMs = 500) =>
        (Call(new AgentRequest("collect", QuietMs: quietMs, MaxMs: maxMs)).Seen ?? []).Select(s => s.ToSeen()).ToList();

    public void Listen(IpProtocol proto, int port) =>
        Call(new AgentRequest("listen", Proto: proto == IpProtocol.Udp ? "udp" : "tcp", Port: port));

    /// <summary>Closes every listening socket opened with <see cref="Listen"/>.</summary>
    public void Unlisten() => Call(new AgentRequest("unlisten"));

    /// <summary>Sends a request without waiting for its answer (so several agents can collect at the same time);
    /// pair each with <see cref="Receive"/>.</summary>
    public void Post(AgentRequest request)
    {
        _process.Process.StandardInput.WriteLine(JsonSerializer.Serialize(request, AgentWireJson.Default.AgentRequest));
        _process.Process.StandardInput.Flush();
    }

    public AgentResponse Receive(TimeSpan? timeout = null)
    {
        var read = _process.Process.StandardOutput.ReadLineAsync();
        if (!read.Wait(timeout ?? _timeout))
            throw new LabException(LabMessages.AgentFailed(Namespace, "no answer within " + (timeout ?? _timeout).TotalSeconds + " s"));
        var line = read.Result ?? throw new LabException(LabMessages.AgentFailed(Namespace, "exited: " + _process.Process.StandardError.ReadToEnd()));
        var r = JsonSerializer.Deserialize(line, AgentWireJson.Default.AgentResponse)
                ?? throw new LabException(LabMessages.AgentFailed(Namespace, "empty answer"));
        if (!r.Ok) throw new LabException(LabMessages.AgentFailed(Namespace, r.Error ?? "error"));
        return r;
    }

    private AgentResponse Call(AgentRequest request, TimeSpan? timeout = null)
    {
        Post(request);
        return Receive(timeout);
    }

    /// <summary>Asks the agent to quit, then ends it by PID if it has not.</summary>
    public void Dispose()
    {
        try
        {
            Post(new AgentRequest("quit"));
            _process.Process.StandardInput.Close();
            _process.Process.WaitForExit(2000);
        }
        catch (IOException) { }
        _process.Dispose();
    }
}
