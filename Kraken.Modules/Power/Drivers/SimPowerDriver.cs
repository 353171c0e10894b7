// A simulated power driver for the simulator and tests: delays and failures drawn from a seeded generator.
using Kraken.Tree.State;

namespace Kraken.Modules.Power;

/// <summary>The shape of a simulated delay.</summary>
public enum SimDelayShape : byte
{
    Fixed,
    Uniform,
    Normal,
}

/// <summary>A delay distribution: fixed, uniform in [A, B], or normal with mean A and deviation B (never below zero).</summary>
public readonly record struct SimDelay(SimDelayShape Shape, TimeSpan A, TimeSpan B)
{
    public static SimDelay Zero => default;

    public static SimDelay Fixed(TimeSpan delay) => new(SimDelayShape.Fixed, delay, TimeSpan.Zero);

    public static SimDelay Uniform(TimeSpan min, TimeSpan max) =>
        max < min ? throw new ArgumentException($"Uniform delay: max ({max}) is below min ({min}).", nameof(max)) : new(SimDelayShape.Uniform, min, max);

    public static SimDelay Normal(TimeSpan mean, TimeSpan deviation) => new(SimDelayShape.Normal, mean, deviation);

    public TimeSpan Sample(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return Shape switch
        {
            SimDelayShape.Uniform => A + TimeSpan.FromTicks((long)(random.NextDouble() * (B - A).Ticks)),
            SimDelayShape.Normal => TimeSpan.FromTicks(Math.Max(0, A.Ticks + (long)(Gaussian(random) * B.Ticks))),
            _ => A,
        };
    }

    private static double Gaussian(Random random)
    {
        // Box-Muller; 1 - NextDouble() keeps the logarithm's argument in (0, 1].
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}

public sealed record SimPowerOptions
{
    /// <summary>The driver name nodes select (<c>/Extensions/Power/Driver</c>).</summary>
    public string Name { get; init; } = "sim";

    /// <summary>From a power-on command (or cycle, reset) to its answer; the node is on from then.</summary>
    public SimDelay OnDelay { get; init; } = SimDelay.Uniform(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));

    /// <summary>From a power-off command to its answer; the node is off from then.</summary>
    public SimDelay OffDelay { get; init; } = SimDelay.Uniform(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(2));

    /// <summary>From a status query to its answer; zero answers at once (no timer at all).</summary>
    public SimDelay StatusDelay { get; init; } = SimDelay.Zero;

    /// <summary>Probability that a call is refused (an error answer, after its delay).</summary>
    public double FailureRate { get; init; }

    /// <summary>Probability that a call is never answered (it ends when the caller's timeout cancels it).</summary>
    public double HangRate { get; init; }

    /// <summary>The power state of a node the driver has not touched yet.</summary>
    public PowerStatus InitialState { get; init; } = PowerStatus.Off;

    /// <summary>Seed of the generator that draws delays and failures; the same seed and call order give the same run.</summary>
    public int Seed { get; init; } = 1;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("SimPowerOptions.Name must be a non-empty name.");
        }

        if (FailureRate is < 0 or > 1 || HangRate is < 0 or > 1 || FailureRate + HangRate > 1)
        {
            throw new ArgumentException($"SimPowerOptions.FailureRate ({FailureRate}) and HangRate ({HangRate}) must each be in [0, 1] and sum to at most 1.");
        }

        foreach (var (name, d) in new[] { (nameof(OnDelay), OnDelay), (nameof(OffDelay), OffDelay), (nameof(StatusDelay), StatusDelay) })
        {
            if (d.A < TimeSpan.Zero || d.B < TimeSpan.Zero)
            {
                throw new ArgumentException($"SimPowerOptions.{name} must not be negative (was {d}).");
            }
        }
    }
}

/// <summary>
/// Simulated BMCs: every node's power state in one dictionary, each answer after a delay drawn from the
/// options, on the injected clock. A call holds one timer only while it is pending and a status query with no
/// delay holds none, so 100,000 nodes cost a dictionary entry each. Deterministic for a seed when calls
/// arrive in a deterministic order (as they do on the simulator's executor). Thread-safe.
/// </summary>
public sealed class SimPowerDriver : IPowerDriver
{
    private readonly TimeProvider _time;
    private readonly SimPowerOptions _options;
    private readonly Random _random;
    private readonly Lock _lock = new();
    private readonly Dictionary<NodeId, PowerStatus> _states = [];
    private readonly HashSet<NodeId> _silent = [];
    private long _calls;

    public SimPowerDriver(TimeProvider time, SimPowerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _options = options ?? new SimPowerOptions();
        _options.Validate();
        _random = new Random(_options.Seed);
    }

    public string Name => _options.Name;

    public SimPowerOptions Options => _options;

    /// <summary>Calls received so far.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Calls waiting for their answer now.</summary>
    public int Pending { get; private set; }

    /// <summary>The most calls pending at once so far.</summary>
    public int PeakPending { get; private set; }

    /// <summary>
    /// Raised when a call switches a machine (every action but Status), where the call completes, after the state
    /// changed: what a simulated machine does when its power goes or comes (its host stops, its firmware starts).
    /// </summary>
    public event Action<SimPowerTransition>? Applied;

    /// <summary>A node's simulated power state.</summary>
    public PowerStatus GetState(NodeId node)
    {
        lock (_lock)
        {
            return _states.TryGetValue(node, out var s) ? s : _options.InitialState;
        }
    }

    /// <summary>Sets a node's power state behind the driver's back (a node that crashed or was switched by hand).</summary>
    public void SetState(NodeId node, PowerStatus state)
    {
        lock (_lock)
        {
            _states[node] = state;
        }
    }

    /// <summary>Makes a node's BMC stop answering (true) or answer again (false).</summary>
    public void SetSilent(NodeId node, bool silent)
    {
        lock (_lock)
        {
            _ = silent ? _silent.Add(node) : _silent.Remove(node);
        }
    }

    public ValueTask<PowerStatus> ExecuteAsync(PowerTarget target, PowerAction action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        Interlocked.Increment(ref _calls);
        TimeSpan delay;
        bool fail, hang;
        lock (_lock)
        {
            delay = (action switch
            {
                PowerAction.Status => _options.StatusDelay,
                PowerAction.Off or PowerAction.SoftOff => _options.OffDelay,
                _ => _options.OnDelay,
            }).Sample(_random);
            var roll = _options.FailureRate + _options.HangRate > 0 ? _random.NextDouble() : 1.0;
            fail = roll < _options.FailureRate;
            hang = !fail && roll < _options.FailureRate + _options.HangRate || _silent.Contains(target.Node);
        }

        if (!hang && delay <= TimeSpan.Zero)
        {
            return fail ? ValueTask.FromException<PowerStatus>(Refused(target, action)) : ValueTask.FromResult(Apply(target.Node, action));
        }

        return new ValueTask<PowerStatus>(new PendingCall(this, target, action, fail, hang ? Timeout.InfiniteTimeSpan : delay, cancellationToken).Task);
    }

    private PowerStatus Apply(NodeId node, PowerAction action)
    {
        PowerStatus current, next;
        lock (_lock)
        {
            current = _states.TryGetValue(node, out var s) ? s : _options.InitialState;
            next = action switch
            {
                PowerAction.Status => current,
                PowerAction.Off => PowerStatus.Off,
                PowerAction.SoftOff => current == PowerStatus.On ? PowerStatus.Off : current,
                _ => PowerStatus.On,
            };
            _states[node] = next;
        }

        if (action != PowerAction.Status)
        {
            Applied?.Invoke(new SimPowerTransition(node, action, current, next));
        }

        return next;
    }

    private static PowerException Refused(PowerTarget target, PowerAction action) =>
        new(PowerErrorKind.Refused, $"{target.Name}: simulated BMC refused {action}");

    private void Track(int delta)
    {
        lock (_lock)
        {
            Pending += delta;
            PeakPending = Math.Max(PeakPending, Pending);
        }
    }

    /// <summary>One pending call: a timer for its answer (none when it hangs) and a cancellation registration.</summary>
    private sealed class PendingCall : TaskCompletionSource<PowerStatus>
    {
        private readonly SimPowerDriver _driver;
        private readonly PowerTarget _target;
        private readonly PowerAction _action;
        private readonly bool _fail;
        private readonly ITimer? _timer;
        private readonly CancellationTokenRegistration _registration;
        private int _done;

        public PendingCall(SimPowerDriver driver, PowerTarget target, PowerAction action, bool fail, TimeSpan delay, CancellationToken cancellationToken)
        {
            _driver = driver;
            _target = target;
            _action = action;
            _fail = fail;
            driver.Track(1);
            if (delay != Timeout.InfiniteTimeSpan)
            {
                _timer = driver._time.CreateTimer(static s => ((PendingCall)s!).Answer(), this, delay, Timeout.InfiniteTimeSpan);
            }

            _registration = cancellationToken.Register(static s => ((PendingCall)s!).Cancel(), this);
        }

        private bool End()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return false;
            }

            _timer?.Dispose();
            _registration.Dispose();
            _driver.Track(-1);
            return true;
        }

        private void Answer()
        {
            if (End())
            {
                if (_fail)
                {
                    TrySetException(Refused(_target, _action));
                }
                else
                {
                    TrySetResult(_driver.Apply(_target.Node, _action));
                }
            }
        }

        private void Cancel()
        {
            if (End())
            {
                TrySetCanceled();
            }
        }
    }
}

/// <summary>A power action a simulated BMC carried out: the machine was <paramref name="Before"/>, is <paramref name="After"/>.</summary>
/// <param name="Node">The node.</param>
/// <param name="Action">What was asked: a <see cref="PowerAction.Cycle"/> or <see cref="PowerAction.Reset"/> of a running machine restarts it, on to on.</param>
/// <param name="Before">The power state before.</param>
/// <param name="After">The power state after.</param>
public readonly record struct SimPowerTransition(NodeId Node, PowerAction Action, PowerStatus Before, PowerStatus After)
{
    /// <summary>The machine's host lost power (switched off, or restarted by a cycle or reset).</summary>
    public bool PowerLost => Before == PowerStatus.On && (After != PowerStatus.On || Restart);

    /// <summary>The machine's firmware starts (switched on, or restarted).</summary>
    public bool PoweredOn => After == PowerStatus.On && (Before != PowerStatus.On || Restart);

    private bool Restart => Action is PowerAction.Cycle or PowerAction.Reset;
}
