// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/// @title IComputeRegistry
/// @notice Compute providers, keyed by their address: stake, endpoint, attestation, hardware, models, prices,
/// capacity, liveness and slashing.
/// @dev Every state change emits an event carrying all the data an indexer needs, so no indexer ever has to read
/// contract state. Capacity (GPUs in use, active rentals) changes only through the rental contract, whose
/// `SessionCreated` / `SessionEnded` / `SessionRejected` / `SessionCancelled` events carry the provider and
/// `gpuCount` of each reservation and release.
///
/// Units: native prices are wei per GPU-hour; ERC-20 prices are the token's smallest unit per GPU-hour; a rental
/// with `gpuCount == 0` is a CPU-only rental and is billed as one unit. `vramGb` is per GPU.
interface IComputeRegistry {
    // ---------------------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Trusted execution environment a provider runs in.
    enum TeeType {
        None,
        IntelSGX,
        IntelTDX,
        AmdSevSnp,
        NvidiaCC
    }

    /// @notice Hardware a provider offers, as set with {setHardware}.
    /// @param gpuModel Free text, e.g. "NVIDIA H100 80GB HBM3"; empty for CPU-only machines.
    /// @param gpuCount Number of rentable GPUs; 0 means a CPU-only machine (only `gpuCount == 0` rentals fit).
    /// @param vramGb VRAM per GPU in GB.
    /// @param cpuCores Logical CPU cores.
    /// @param memoryGb System memory in GB.
    /// @param storageGb Disk in GB.
    /// @param teeType Trusted execution environment, {TeeType.None} if none.
    struct Hardware {
        string gpuModel;
        uint16 gpuCount;
        uint32 vramGb;
        uint32 cpuCores;
        uint32 memoryGb;
        uint32 storageGb;
        TeeType teeType;
    }

    /// @notice A provider's record as returned by {getProvider}.
    /// @param registered Whether {register} was ever called by this address.
    /// @param active Whether the provider accepts new rentals.
    /// @param stake Bonded stake in wei (slashable).
    /// @param pendingUnstake Stake requested for withdrawal, still slashable until withdrawn.
    /// @param unstakeUnlockTime When `pendingUnstake` can be withdrawn (0 if none pending).
    /// @param pricePerHour Native price, wei per GPU-hour (0: does not accept native payment).
    /// @param lastHeartbeat Timestamp of the last heartbeat (registration and reactivation count as heartbeats).
    /// @param gpuCount Rentable GPUs (from {setHardware}).
    /// @param gpusInUse GPUs reserved by open rental sessions.
    /// @param maxConcurrentRentals Limit on open rental sessions; 0 means no limit.
    /// @param activeRentals Open (pending or active) rental sessions.
    /// @param strikes Number of times the provider was slashed or struck (including zero-amount strikes).
    /// @param attestationHash keccak256 of the attestation bytes (the data itself is only in events).
    /// @param endpoint Public API endpoint, e.g. "https://mynode.example.com:4007".
    struct ProviderInfo {
        bool registered;
        bool active;
        uint256 stake;
        uint256 pendingUnstake;
        uint64 unstakeUnlockTime;
        uint256 pricePerHour;
        uint64 lastHeartbeat;
        uint16 gpuCount;
        uint16 gpusInUse;
        uint16 maxConcurrentRentals;
        uint32 activeRentals;
        uint32 strikes;
        bytes32 attestationHash;
        string endpoint;
    }

    /// @notice A model served by a provider, with per-token prices (for x402 inference payments).
    /// @param name Model name as served on `/v1/models`, e.g. "llama2".
    /// @param inputPricePerToken Price per prompt token, in the smallest unit of the payment token (USDC: 1e-6).
    /// @param outputPricePerToken Price per completion token, same unit.
    struct Model {
        string name;
        uint256 inputPricePerToken;
        uint256 outputPricePerToken;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------------------

    /// @notice `provider` already called {register}.
    error ProviderAlreadyRegistered(address provider);
    /// @notice `provider` never called {register}.
    error ProviderNotRegistered(address provider);
    /// @notice `provider` is inactive and cannot take new rentals (or be reported for downtime).
    error ProviderNotActive(address provider);
    /// @notice `provider` is already active.
    error ProviderAlreadyActive(address provider);
    /// @notice The stake (`stake`) is below the minimum (`minStake`).
    error StakeTooLow(uint256 stake, uint256 minStake);
    /// @notice The endpoint is empty.
    error EndpointEmpty();
    /// @notice A price (`price`) exceeds what the registry stores (`max`).
    error PriceTooHigh(uint256 price, uint256 max);
    /// @notice An amount that must be positive is zero.
    error AmountZero();
    /// @notice Unstaking `amount` exceeds the bonded stake `stake`.
    error UnstakeExceedsStake(uint256 amount, uint256 stake);
    /// @notice `provider` has no pending unstake to withdraw.
    error UnstakeNotRequested(address provider);
    /// @notice The pending unstake unlocks at `unlockTime`, which is still in the future.
    error UnstakeLocked(uint256 unlockTime);
    /// @notice `token` is not an allowed ERC-20 payment token.
    error PaymentTokenNotAllowed(address token);
    /// @notice `provider` has no price for `token` (0), so it does not accept that payment.
    error PaymentTokenNotAccepted(address provider, address token);
    /// @notice `provider` cannot fit `requested` more GPUs (`available` free).
    error InsufficientGpus(address provider, uint256 requested, uint256 available);
    /// @notice `provider` is at its limit of `maxConcurrentRentals` open rentals.
    error ConcurrentRentalLimitReached(address provider, uint256 maxConcurrentRentals);
    /// @notice `provider`'s last heartbeat (`lastHeartbeat`) is not older than the downtime threshold yet;
    /// it can be reported after `reportableAt`.
    error ProviderNotDown(address provider, uint256 lastHeartbeat, uint256 reportableAt);
    /// @notice `provider` does not serve `model`.
    error ModelNotFound(address provider, string model);
    /// @notice The model name is empty.
    error ModelNameEmpty();
    /// @notice `account` has no slashing proceeds to withdraw.
    error NothingToWithdraw(address account);
    /// @notice Sending `amount` wei to `to` failed.
    error NativeTransferFailed(address to, uint256 amount);
    /// @notice A basis-points value (`bps`) exceeds `max`.
    error BpsTooHigh(uint256 bps, uint256 max);
    /// @notice An address that must be set is the zero address.
    error ZeroAddress();
    /// @notice Releasing capacity that was never reserved (only reachable through a faulty rental contract).
    error CapacityUnderflow(address provider);

    // ---------------------------------------------------------------------------------------------------------
    // Events: provider lifecycle
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A provider registered. It is active, with `lastHeartbeat` = block timestamp, no hardware
    /// (gpuCount 0), no concurrency limit and no strikes.
    /// @param provider The provider's address (its id).
    /// @param endpoint Public API endpoint.
    /// @param attestation The attestation data as given (may be empty).
    /// @param attestationHash keccak256(bytes(attestation)), the only part kept in storage.
    /// @param pricePerHour Native price, wei per GPU-hour.
    /// @param stake The bonded stake (msg.value).
    event ProviderRegistered(
        address indexed provider,
        string endpoint,
        string attestation,
        bytes32 attestationHash,
        uint256 pricePerHour,
        uint256 stake
    );

    /// @notice A provider changed its endpoint.
    event EndpointUpdated(address indexed provider, string endpoint);

    /// @notice A provider changed its attestation.
    event AttestationUpdated(address indexed provider, string attestation, bytes32 attestationHash);

    /// @notice A provider set its hardware. Replaces the previous hardware entirely.
    event HardwareUpdated(
        address indexed provider,
        string gpuModel,
        uint256 gpuCount,
        uint256 vramGb,
        uint256 cpuCores,
        uint256 memoryGb,
        uint256 storageGb,
        TeeType teeType
    );

    /// @notice A provider added or repriced a model it serves.
    event ModelSet(address indexed provider, string model, uint256 inputPricePerToken, uint256 outputPricePerToken);

    /// @notice A provider stopped serving a model.
    event ModelRemoved(address indexed provider, string model);

    /// @notice A provider set its hourly price (per GPU-hour) for `token`; `token == address(0)` is the native
    /// price (also set by {register}). A price of 0 means the provider does not accept that token.
    event TokenPriceSet(address indexed provider, address indexed token, uint256 pricePerHour);

    /// @notice A provider set its limit on open rentals (0 = no limit).
    event CapacitySet(address indexed provider, uint256 maxConcurrentRentals);

    /// @notice A provider proved liveness.
    event Heartbeat(address indexed provider, uint256 timestamp);

    /// @notice A provider stopped accepting new rentals: by itself, after a downtime report, or because its
    /// stake fell below the minimum (after a slash or unstake request).
    event ProviderDeactivated(address indexed provider);

    /// @notice A provider accepts new rentals again. Counts as a heartbeat at `timestamp`.
    event ProviderReactivated(address indexed provider, uint256 timestamp);

    // ---------------------------------------------------------------------------------------------------------
    // Events: stake
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A provider added `amount` wei of stake; its bonded stake is now `newStake`.
    event StakeAdded(address indexed provider, uint256 amount, uint256 newStake);

    /// @notice A provider moved `amount` from bonded stake to pending unstake.
    /// @param remainingStake Bonded stake after the request.
    /// @param pendingUnstake Total pending unstake after the request (requests accumulate).
    /// @param unlockTime When the whole pending amount can be withdrawn (each request restarts the period).
    event UnstakeRequested(
        address indexed provider, uint256 amount, uint256 remainingStake, uint256 pendingUnstake, uint256 unlockTime
    );

    /// @notice A provider withdrew `amount` of pending unstake to its address.
    event StakeWithdrawn(address indexed provider, uint256 amount);

    /// @notice Stake was slashed. Slashing takes from bonded stake first, then from pending unstake. The slashed
    /// amount is credited (pull, see {withdraw}): `reporterReward` to `reporter`, the rest (`amount -
    /// reporterReward`) to `beneficiary`. Nothing is ever burned.
    /// @param provider The slashed provider.
    /// @param amount Total wei slashed (may be less than requested, down to 0 for a strike-only slash).
    /// @param reason Human-readable reason, e.g. "downtime", "provision timeout".
    /// @param evidenceHash Hash of off-chain evidence (or of the session id for provision timeouts).
    /// @param beneficiary Credited `amount - reporterReward`: the harmed renter or the treasury.
    /// @param reporter Whoever reported the fault (the caller for downtime reports, else address(0)).
    /// @param reporterReward Part of `amount` credited to `reporter`.
    /// @param remainingStake Bonded stake after the slash.
    /// @param remainingPendingUnstake Pending unstake after the slash.
    /// @param strikes The provider's strike count after this slash.
    event ProviderSlashed(
        address indexed provider,
        uint256 amount,
        string reason,
        bytes32 evidenceHash,
        address indexed beneficiary,
        address indexed reporter,
        uint256 reporterReward,
        uint256 remainingStake,
        uint256 remainingPendingUnstake,
        uint256 strikes
    );

    /// @notice `account` withdrew `amount` wei of slashing proceeds.
    event Withdrawn(address indexed account, uint256 amount);

    // ---------------------------------------------------------------------------------------------------------
    // Events: governance
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Governance allowed (or disallowed) an ERC-20 as a payment token.
    event PaymentTokenAllowed(address indexed token, bool allowed);
    /// @notice Governance set the minimum stake for registration and reactivation.
    event MinStakeSet(uint256 minStake);
    /// @notice Governance set the unbonding period (seconds between an unstake request and its withdrawal).
    event UnbondingPeriodSet(uint256 unbondingPeriod);
    /// @notice Governance set the treasury (beneficiary of downtime slashes).
    event TreasurySet(address indexed treasury);
    /// @notice Governance set the downtime slash: `amount` wei per report, `reporterRewardBps` of it to the
    /// reporter.
    event DowntimeSlashSet(uint256 amount, uint256 reporterRewardBps);

    // ---------------------------------------------------------------------------------------------------------
    // Provider functions
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Registers the caller as a provider with `msg.value` as bonded stake.
    /// @dev Exactly this signature: the docs'
    /// `cast send $COMPUTE_REGISTRY "register(string,string,uint256)" "https://..." "$ATTESTATION_DATA"
    /// $(cast --to-wei 0.01) --value 0.1ether` must work as written. Only keccak256(attestation) is stored.
    /// @param endpoint Public API endpoint, non-empty.
    /// @param attestation TEE attestation data, may be empty.
    /// @param pricePerHour Native price in wei per GPU-hour.
    function register(string calldata endpoint, string calldata attestation, uint256 pricePerHour) external payable;

    /// @notice Replaces the caller's endpoint.
    function updateEndpoint(string calldata endpoint) external;

    /// @notice Replaces the caller's attestation (only its hash is stored).
    function updateAttestation(string calldata attestation) external;

    /// @notice Replaces the caller's hardware. Lowering `gpuCount` below GPUs in use blocks new rentals until
    /// enough are released; open sessions are not affected.
    function setHardware(Hardware calldata hardware) external;

    /// @notice Adds or reprices a model the caller serves.
    function setModel(string calldata model, uint256 inputPricePerToken, uint256 outputPricePerToken) external;

    /// @notice Removes a model the caller serves.
    function removeModel(string calldata model) external;

    /// @notice Sets the caller's hourly price (per GPU-hour) for `token`. `token == address(0)` sets the native
    /// price; an ERC-20 must be allowed by governance. 0 stops accepting the token.
    function setTokenPrice(address token, uint256 pricePerHour) external;

    /// @notice Sets the caller's limit on open rentals (0 = no limit).
    function setMaxConcurrentRentals(uint16 maxConcurrentRentals) external;

    /// @notice Proves the caller is alive. A provider whose last heartbeat is older than
    /// {DOWNTIME_THRESHOLD} can be reported with {reportDowntime}.
    function heartbeat() external;

    /// @notice Stops new rentals to the caller. Open sessions continue.
    function deactivate() external;

    /// @notice Accepts new rentals again; requires stake >= {minStake}. Counts as a heartbeat.
    function reactivate() external;

    /// @notice Adds `msg.value` to the caller's bonded stake.
    function addStake() external payable;

    /// @notice Moves `amount` of bonded stake to pending unstake, withdrawable after the unbonding period. Still
    /// slashable until withdrawn. Deactivates the provider if its bonded stake falls below {minStake}.
    function requestUnstake(uint256 amount) external;

    /// @notice Sends the caller's whole pending unstake to it, once unlocked.
    function withdrawStake() external;

    // ---------------------------------------------------------------------------------------------------------
    // Slashing
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Slashes up to `amount` from `provider` (bonded stake first, then pending unstake) and credits it
    /// to `beneficiary` (treasury if zero). Always records a strike; `amount == 0` is a strike only.
    /// Only `SLASHER_ROLE` (arbiter, governance, the rental contract).
    /// @return slashed The amount actually slashed (less than `amount` if the provider has less).
    function slash(address provider, uint256 amount, string calldata reason, bytes32 evidenceHash, address beneficiary)
        external
        returns (uint256 slashed);

    /// @notice Reports an active provider whose last heartbeat is older than {DOWNTIME_THRESHOLD}: slashes the
    /// downtime amount (reporter gets `reporterRewardBps` of it, treasury the rest) and deactivates it.
    /// Callable by anyone.
    /// @return slashed The amount slashed.
    function reportDowntime(address provider) external returns (uint256 slashed);

    /// @notice Withdraws the caller's slashing proceeds (as beneficiary, reporter or treasury).
    function withdraw() external;

    // ---------------------------------------------------------------------------------------------------------
    // Capacity (rental contract only)
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Reserves `gpuCount` GPUs and one rental slot of `provider` for a session paid in `token`.
    /// Only `RENTAL_ROLE`.
    /// @return pricePerHour The provider's current hourly price per GPU for `token`, to lock into the session.
    function reserveCapacity(address provider, address token, uint256 gpuCount) external returns (uint256 pricePerHour);

    /// @notice Releases what {reserveCapacity} reserved. Only `RENTAL_ROLE`.
    function releaseCapacity(address provider, uint256 gpuCount) external;

    // ---------------------------------------------------------------------------------------------------------
    // Governance (DEFAULT_ADMIN_ROLE)
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Allows or disallows an ERC-20 payment token.
    function setPaymentTokenAllowed(address token, bool allowed) external;
    /// @notice Sets the minimum stake.
    function setMinStake(uint256 minStake) external;
    /// @notice Sets the unbonding period in seconds.
    function setUnbondingPeriod(uint256 unbondingPeriod) external;
    /// @notice Sets the treasury.
    function setTreasury(address treasury) external;
    /// @notice Sets the downtime slash amount and the reporter's share.
    function setDowntimeSlash(uint256 amount, uint256 reporterRewardBps) external;

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Role allowed to slash.
    function SLASHER_ROLE() external view returns (bytes32);
    /// @notice Role allowed to reserve and release capacity (the rental contract).
    function RENTAL_ROLE() external view returns (bytes32);
    /// @notice A provider may be reported once its last heartbeat is older than this (4 hours).
    function DOWNTIME_THRESHOLD() external view returns (uint256);
    /// @notice Minimum stake, wei.
    function minStake() external view returns (uint256);
    /// @notice Unbonding period, seconds.
    function unbondingPeriod() external view returns (uint256);
    /// @notice Treasury address.
    function treasury() external view returns (address);
    /// @notice Wei slashed per downtime report.
    function downtimeSlashAmount() external view returns (uint256);
    /// @notice Reporter's share of a downtime slash, bps.
    function reporterRewardBps() external view returns (uint256);
    /// @notice Whether `token` is an allowed ERC-20 payment token (address(0), native, is always allowed).
    function isPaymentTokenAllowed(address token) external view returns (bool);
    /// @notice Slashing proceeds `account` can withdraw.
    function credits(address account) external view returns (uint256);
    /// @notice The provider's record (all zero if never registered).
    function getProvider(address provider) external view returns (ProviderInfo memory);
    /// @notice The provider's hardware.
    function getHardware(address provider) external view returns (Hardware memory);
    /// @notice The provider's models with prices.
    function getModels(address provider) external view returns (Model[] memory);
    /// @notice The provider's per-token prices for `model`; reverts with {ModelNotFound}.
    function getModelPrice(address provider, string calldata model)
        external
        view
        returns (uint256 inputPricePerToken, uint256 outputPricePerToken);
    /// @notice The provider's hourly price per GPU for `token` (address(0): native); 0 if not accepted.
    function priceOf(address provider, address token) external view returns (uint256);
    /// @notice GPUs of `provider` not reserved by open sessions.
    function availableGpus(address provider) external view returns (uint256);
    /// @notice Whether a new rental of `gpuCount` GPUs paid in `token` would be accepted now.
    function isAvailable(address provider, address token, uint256 gpuCount) external view returns (bool);
}
