// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IComputeRegistry} from "./interfaces/IComputeRegistry.sol";

/// @title ComputeRegistry
/// @notice Compute providers: stake, endpoint, attestation hash, hardware, models, prices, capacity, liveness and
/// slashing. See {IComputeRegistry} for the documentation of every function, error and event.
/// @dev ETH held by this contract is always exactly Σ(stake + pendingUnstake) over providers + Σ credits.
contract ComputeRegistry is IComputeRegistry, AccessControl, ReentrancyGuardTransient {
    using SafeCast for uint256;

    /// @inheritdoc IComputeRegistry
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @inheritdoc IComputeRegistry
    bytes32 public constant RENTAL_ROLE = keccak256("RENTAL_ROLE");
    /// @inheritdoc IComputeRegistry
    uint256 public constant DOWNTIME_THRESHOLD = 4 hours;

    uint256 internal constant BPS = 10_000;

    /// @dev Packed so that `register` writes three fresh slots and rentals touch only `capacity`-side slot 1.
    struct Provider {
        // slot 0: hot on every rental (active, price)
        uint96 stake;
        uint96 pricePerHour;
        uint40 lastHeartbeat;
        bool registered;
        bool active;
        // slot 1: capacity and unbonding
        uint96 pendingUnstake;
        uint40 unstakeUnlockTime;
        uint16 gpuCount;
        uint16 gpusInUse;
        uint16 maxConcurrentRentals;
        uint32 activeRentals;
        uint32 strikes;
        // slot 2
        bytes32 attestationHash;
        // slot 3
        string endpoint;
    }

    /// @dev The hardware fields other than `gpuCount` (which lives in {Provider} next to `gpusInUse`).
    struct HardwareDetails {
        string gpuModel;
        uint32 vramGb;
        uint32 cpuCores;
        uint32 memoryGb;
        uint32 storageGb;
        TeeType teeType;
    }

    /// @dev Fields of {ProviderSlashed}, gathered in memory to keep the stack shallow.
    struct SlashRecord {
        uint256 amount;
        bytes32 evidenceHash;
        address beneficiary;
        address reporter;
        uint256 reporterReward;
        uint256 remainingStake;
        uint256 remainingPendingUnstake;
        uint256 strikes;
    }

    /// @inheritdoc IComputeRegistry
    uint256 public minStake;
    /// @inheritdoc IComputeRegistry
    uint256 public unbondingPeriod;
    /// @inheritdoc IComputeRegistry
    address public treasury;
    /// @inheritdoc IComputeRegistry
    uint256 public downtimeSlashAmount;
    /// @inheritdoc IComputeRegistry
    uint256 public reporterRewardBps;

    mapping(address provider => Provider) internal _providers;
    mapping(address provider => HardwareDetails) internal _hardware;
    mapping(address provider => Model[]) internal _models;
    /// @dev 1-based index into `_models[provider]`, keyed by keccak256(model name); 0 = not served.
    mapping(address provider => mapping(bytes32 modelId => uint256 indexPlusOne)) internal _modelIndex;
    mapping(address provider => mapping(address token => uint256 pricePerHour)) internal _tokenPrices;
    mapping(address token => bool allowed) internal _allowedTokens;
    /// @inheritdoc IComputeRegistry
    mapping(address account => uint256 amount) public credits;

    /// @param admin Governance (DEFAULT_ADMIN_ROLE and SLASHER_ROLE).
    /// @param treasury_ Recipient of downtime slashes and of slashes without a beneficiary.
    constructor(address admin, address treasury_) {
        if (admin == address(0) || treasury_ == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(SLASHER_ROLE, admin);
        treasury = treasury_;
        minStake = 0.1 ether;
        unbondingPeriod = 7 days;
        downtimeSlashAmount = 0.01 ether;
        reporterRewardBps = 1_000;
        emit TreasurySet(treasury_);
        emit MinStakeSet(0.1 ether);
        emit UnbondingPeriodSet(7 days);
        emit DowntimeSlashSet(0.01 ether, 1_000);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Provider functions
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IComputeRegistry
    function register(string calldata endpoint, string calldata attestation, uint256 pricePerHour) external payable {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert ProviderAlreadyRegistered(msg.sender);
        if (msg.value < minStake) revert StakeTooLow(msg.value, minStake);
        if (bytes(endpoint).length == 0) revert EndpointEmpty();
        _checkPrice(pricePerHour);

        bytes32 attestationHash = keccak256(bytes(attestation));
        p.stake = msg.value.toUint96();
        // Safe: _checkPrice bounds it to uint96.
        p.pricePerHour = uint96(pricePerHour);
        p.lastHeartbeat = uint40(block.timestamp);
        p.registered = true;
        p.active = true;
        p.attestationHash = attestationHash;
        p.endpoint = endpoint;

        emit ProviderRegistered(msg.sender, endpoint, attestation, attestationHash, pricePerHour, msg.value);
    }

    /// @inheritdoc IComputeRegistry
    function updateEndpoint(string calldata endpoint) external {
        Provider storage p = _registered(msg.sender);
        if (bytes(endpoint).length == 0) revert EndpointEmpty();
        p.endpoint = endpoint;
        emit EndpointUpdated(msg.sender, endpoint);
    }

    /// @inheritdoc IComputeRegistry
    function updateAttestation(string calldata attestation) external {
        Provider storage p = _registered(msg.sender);
        bytes32 attestationHash = keccak256(bytes(attestation));
        p.attestationHash = attestationHash;
        emit AttestationUpdated(msg.sender, attestation, attestationHash);
    }

    /// @inheritdoc IComputeRegistry
    function setHardware(Hardware calldata hardware) external {
        Provider storage p = _registered(msg.sender);
        p.gpuCount = hardware.gpuCount;
        _hardware[msg.sender] = HardwareDetails({
            gpuModel: hardware.gpuModel,
            vramGb: hardware.vramGb,
            cpuCores: hardware.cpuCores,
            memoryGb: hardware.memoryGb,
            storageGb: hardware.storageGb,
            teeType: hardware.teeType
        });
        emit HardwareUpdated(
            msg.sender,
            hardware.gpuModel,
            hardware.gpuCount,
            hardware.vramGb,
            hardware.cpuCores,
            hardware.memoryGb,
            hardware.storageGb,
            hardware.teeType
        );
    }

    /// @inheritdoc IComputeRegistry
    function setModel(string calldata model, uint256 inputPricePerToken, uint256 outputPricePerToken) external {
        _registered(msg.sender);
        if (bytes(model).length == 0) revert ModelNameEmpty();
        bytes32 modelId = keccak256(bytes(model));
        uint256 indexPlusOne = _modelIndex[msg.sender][modelId];
        if (indexPlusOne == 0) {
            _models[msg.sender].push(Model(model, inputPricePerToken, outputPricePerToken));
            _modelIndex[msg.sender][modelId] = _models[msg.sender].length;
        } else {
            Model storage m = _models[msg.sender][indexPlusOne - 1];
            m.inputPricePerToken = inputPricePerToken;
            m.outputPricePerToken = outputPricePerToken;
        }
        emit ModelSet(msg.sender, model, inputPricePerToken, outputPricePerToken);
    }

    /// @inheritdoc IComputeRegistry
    function removeModel(string calldata model) external {
        _registered(msg.sender);
        bytes32 modelId = keccak256(bytes(model));
        uint256 indexPlusOne = _modelIndex[msg.sender][modelId];
        if (indexPlusOne == 0) revert ModelNotFound(msg.sender, model);
        Model[] storage models = _models[msg.sender];
        uint256 last = models.length - 1;
        if (indexPlusOne - 1 != last) {
            models[indexPlusOne - 1] = models[last];
            _modelIndex[msg.sender][keccak256(bytes(models[last].name))] = indexPlusOne;
        }
        models.pop();
        delete _modelIndex[msg.sender][modelId];
        emit ModelRemoved(msg.sender, model);
    }

    /// @inheritdoc IComputeRegistry
    function setTokenPrice(address token, uint256 pricePerHour) external {
        Provider storage p = _registered(msg.sender);
        _checkPrice(pricePerHour);
        if (token == address(0)) {
            // Safe: _checkPrice bounds it to uint96.
            p.pricePerHour = uint96(pricePerHour);
        } else {
            if (!_allowedTokens[token]) revert PaymentTokenNotAllowed(token);
            _tokenPrices[msg.sender][token] = pricePerHour;
        }
        emit TokenPriceSet(msg.sender, token, pricePerHour);
    }

    /// @inheritdoc IComputeRegistry
    function setMaxConcurrentRentals(uint16 maxConcurrentRentals) external {
        Provider storage p = _registered(msg.sender);
        p.maxConcurrentRentals = maxConcurrentRentals;
        emit CapacitySet(msg.sender, maxConcurrentRentals);
    }

    /// @inheritdoc IComputeRegistry
    function heartbeat() external {
        Provider storage p = _registered(msg.sender);
        p.lastHeartbeat = uint40(block.timestamp);
        emit Heartbeat(msg.sender, block.timestamp);
    }

    /// @inheritdoc IComputeRegistry
    function deactivate() external {
        Provider storage p = _registered(msg.sender);
        if (!p.active) revert ProviderNotActive(msg.sender);
        p.active = false;
        emit ProviderDeactivated(msg.sender);
    }

    /// @inheritdoc IComputeRegistry
    function reactivate() external {
        Provider storage p = _registered(msg.sender);
        if (p.active) revert ProviderAlreadyActive(msg.sender);
        if (p.stake < minStake) revert StakeTooLow(p.stake, minStake);
        p.active = true;
        p.lastHeartbeat = uint40(block.timestamp);
        emit ProviderReactivated(msg.sender, block.timestamp);
    }

    /// @inheritdoc IComputeRegistry
    function addStake() external payable {
        Provider storage p = _registered(msg.sender);
        if (msg.value == 0) revert AmountZero();
        uint256 newStake = p.stake + msg.value;
        p.stake = newStake.toUint96();
        emit StakeAdded(msg.sender, msg.value, newStake);
    }

    /// @inheritdoc IComputeRegistry
    function requestUnstake(uint256 amount) external {
        Provider storage p = _registered(msg.sender);
        if (amount == 0) revert AmountZero();
        uint256 stake = p.stake;
        if (amount > stake) revert UnstakeExceedsStake(amount, stake);
        uint256 remaining;
        // Safe: amount <= stake.
        unchecked {
            remaining = stake - amount;
        }
        uint256 pending = p.pendingUnstake + amount;
        uint256 unlockTime = block.timestamp + unbondingPeriod;
        // Safe: remaining < stake fits uint96; pending <= Σ stake ever bonded fits uint96 (checked on entry).
        p.stake = uint96(remaining);
        p.pendingUnstake = pending.toUint96();
        p.unstakeUnlockTime = unlockTime.toUint40();
        emit UnstakeRequested(msg.sender, amount, remaining, pending, unlockTime);
        if (p.active && remaining < minStake) {
            p.active = false;
            emit ProviderDeactivated(msg.sender);
        }
    }

    /// @inheritdoc IComputeRegistry
    function withdrawStake() external nonReentrant {
        Provider storage p = _providers[msg.sender];
        uint256 amount = p.pendingUnstake;
        if (amount == 0) revert UnstakeNotRequested(msg.sender);
        uint256 unlockTime = p.unstakeUnlockTime;
        if (block.timestamp < unlockTime) revert UnstakeLocked(unlockTime);
        p.pendingUnstake = 0;
        p.unstakeUnlockTime = 0;
        emit StakeWithdrawn(msg.sender, amount);
        _sendNative(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Slashing
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IComputeRegistry
    function slash(address provider, uint256 amount, string calldata reason, bytes32 evidenceHash, address beneficiary)
        external
        onlyRole(SLASHER_ROLE)
        returns (uint256 slashed)
    {
        Provider storage p = _registered(provider);
        if (beneficiary == address(0)) beneficiary = treasury;
        slashed = _slash(p, provider, amount, reason, evidenceHash, beneficiary, address(0), 0);
    }

    /// @inheritdoc IComputeRegistry
    function reportDowntime(address provider) external returns (uint256 slashed) {
        Provider storage p = _registered(provider);
        if (!p.active) revert ProviderNotActive(provider);
        uint256 lastHeartbeat = p.lastHeartbeat;
        uint256 reportableAt = lastHeartbeat + DOWNTIME_THRESHOLD;
        if (block.timestamp <= reportableAt) revert ProviderNotDown(provider, lastHeartbeat, reportableAt);
        // Deactivated first so the same outage cannot be reported twice; reactivate() resets the heartbeat.
        p.active = false;
        slashed = _slash(
            p,
            provider,
            downtimeSlashAmount,
            "downtime",
            bytes32(lastHeartbeat),
            treasury,
            msg.sender,
            reporterRewardBps
        );
        emit ProviderDeactivated(provider);
    }

    /// @inheritdoc IComputeRegistry
    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credits[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _sendNative(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Capacity
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IComputeRegistry
    function reserveCapacity(address provider, address token, uint256 gpuCount)
        external
        onlyRole(RENTAL_ROLE)
        returns (uint256 pricePerHour)
    {
        Provider storage p = _providers[provider];
        if (!p.active) revert ProviderNotActive(provider);
        pricePerHour = _priceOf(p, provider, token);
        if (pricePerHour == 0) revert PaymentTokenNotAccepted(provider, token);
        uint256 inUse = p.gpusInUse;
        if (gpuCount != 0) {
            uint256 total = p.gpuCount;
            uint256 available = total > inUse ? total - inUse : 0;
            if (gpuCount > available) revert InsufficientGpus(provider, gpuCount, available);
        }
        uint256 rentals = p.activeRentals;
        uint256 maxRentals = p.maxConcurrentRentals;
        if (maxRentals != 0 && rentals >= maxRentals) revert ConcurrentRentalLimitReached(provider, maxRentals);
        // Safe: inUse + gpuCount <= gpuCount (uint16) by the check above; rentals + 1 overflowing uint32 would
        // need 4 billion open sessions, and the checked cast below reverts if it ever did.
        p.gpusInUse = uint16(inUse + gpuCount);
        p.activeRentals = (rentals + 1).toUint32();
    }

    /// @inheritdoc IComputeRegistry
    function releaseCapacity(address provider, uint256 gpuCount) external onlyRole(RENTAL_ROLE) {
        Provider storage p = _providers[provider];
        uint256 inUse = p.gpusInUse;
        uint256 rentals = p.activeRentals;
        if (rentals == 0 || inUse < gpuCount) revert CapacityUnderflow(provider);
        // Safe: both checked just above.
        unchecked {
            p.gpusInUse = uint16(inUse - gpuCount);
            p.activeRentals = uint32(rentals - 1);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Governance
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IComputeRegistry
    function setPaymentTokenAllowed(address token, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (token == address(0)) revert ZeroAddress();
        _allowedTokens[token] = allowed;
        emit PaymentTokenAllowed(token, allowed);
    }

    /// @inheritdoc IComputeRegistry
    function setMinStake(uint256 minStake_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        minStake = minStake_;
        emit MinStakeSet(minStake_);
    }

    /// @inheritdoc IComputeRegistry
    function setUnbondingPeriod(uint256 unbondingPeriod_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        // Checked cast: unlock times are stored as uint40.
        unbondingPeriod = uint256(unbondingPeriod_.toUint32());
        emit UnbondingPeriodSet(unbondingPeriod_);
    }

    /// @inheritdoc IComputeRegistry
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @inheritdoc IComputeRegistry
    function setDowntimeSlash(uint256 amount, uint256 reporterRewardBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (reporterRewardBps_ > BPS) revert BpsTooHigh(reporterRewardBps_, BPS);
        downtimeSlashAmount = amount;
        reporterRewardBps = reporterRewardBps_;
        emit DowntimeSlashSet(amount, reporterRewardBps_);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IComputeRegistry
    function isPaymentTokenAllowed(address token) external view returns (bool) {
        return token == address(0) || _allowedTokens[token];
    }

    /// @inheritdoc IComputeRegistry
    function getProvider(address provider) external view returns (ProviderInfo memory info) {
        Provider storage p = _providers[provider];
        info = ProviderInfo({
            registered: p.registered,
            active: p.active,
            stake: p.stake,
            pendingUnstake: p.pendingUnstake,
            unstakeUnlockTime: p.unstakeUnlockTime,
            pricePerHour: p.pricePerHour,
            lastHeartbeat: p.lastHeartbeat,
            gpuCount: p.gpuCount,
            gpusInUse: p.gpusInUse,
            maxConcurrentRentals: p.maxConcurrentRentals,
            activeRentals: p.activeRentals,
            strikes: p.strikes,
            attestationHash: p.attestationHash,
            endpoint: p.endpoint
        });
    }

    /// @inheritdoc IComputeRegistry
    function getHardware(address provider) external view returns (Hardware memory) {
        HardwareDetails storage h = _hardware[provider];
        return Hardware({
            gpuModel: h.gpuModel,
            gpuCount: _providers[provider].gpuCount,
            vramGb: h.vramGb,
            cpuCores: h.cpuCores,
            memoryGb: h.memoryGb,
            storageGb: h.storageGb,
            teeType: h.teeType
        });
    }

    /// @inheritdoc IComputeRegistry
    function getModels(address provider) external view returns (Model[] memory) {
        return _models[provider];
    }

    /// @inheritdoc IComputeRegistry
    function getModelPrice(address provider, string calldata model)
        external
        view
        returns (uint256 inputPricePerToken, uint256 outputPricePerToken)
    {
        uint256 indexPlusOne = _modelIndex[provider][keccak256(bytes(model))];
        if (indexPlusOne == 0) revert ModelNotFound(provider, model);
        Model storage m = _models[provider][indexPlusOne - 1];
        return (m.inputPricePerToken, m.outputPricePerToken);
    }

    /// @inheritdoc IComputeRegistry
    function priceOf(address provider, address token) external view returns (uint256) {
        Provider storage p = _providers[provider];
        if (token != address(0) && !_allowedTokens[token]) return 0;
        return _priceOf(p, provider, token);
    }

    /// @inheritdoc IComputeRegistry
    function availableGpus(address provider) public view returns (uint256) {
        Provider storage p = _providers[provider];
        uint256 total = p.gpuCount;
        uint256 inUse = p.gpusInUse;
        return total > inUse ? total - inUse : 0;
    }

    /// @inheritdoc IComputeRegistry
    function isAvailable(address provider, address token, uint256 gpuCount) external view returns (bool) {
        Provider storage p = _providers[provider];
        if (!p.active) return false;
        if (token != address(0) && !_allowedTokens[token]) return false;
        if (_priceOf(p, provider, token) == 0) return false;
        if (gpuCount > availableGpus(provider)) return false;
        uint256 maxRentals = p.maxConcurrentRentals;
        return maxRentals == 0 || p.activeRentals < maxRentals;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------------------

    function _registered(address provider) internal view returns (Provider storage p) {
        p = _providers[provider];
        if (!p.registered) revert ProviderNotRegistered(provider);
    }

    /// @dev Native price from the packed record; ERC-20 prices only if the token is allowed.
    function _priceOf(Provider storage p, address provider, address token) internal view returns (uint256) {
        if (token == address(0)) return p.pricePerHour;
        if (!_allowedTokens[token]) revert PaymentTokenNotAllowed(token);
        return _tokenPrices[provider][token];
    }

    function _checkPrice(uint256 pricePerHour) internal pure {
        if (pricePerHour > type(uint96).max) revert PriceTooHigh(pricePerHour, type(uint96).max);
    }

    /// @dev Takes up to `amount` from bonded stake, then pending unstake; credits `reporterBps` of it to
    /// `reporter` and the rest to `beneficiary`; records a strike; deactivates below the minimum stake.
    function _slash(
        Provider storage p,
        address provider,
        uint256 amount,
        string memory reason,
        bytes32 evidenceHash,
        address beneficiary,
        address reporter,
        uint256 reporterBps
    ) internal returns (uint256 slashed) {
        slashed = _takeStake(p, amount);
        uint256 reward = slashed * reporterBps / BPS;
        if (reward != 0) credits[reporter] += reward;
        if (slashed != reward) credits[beneficiary] += slashed - reward;
        _emitSlashed(
            provider,
            reason,
            SlashRecord({
                amount: slashed,
                evidenceHash: evidenceHash,
                beneficiary: beneficiary,
                reporter: reporter,
                reporterReward: reward,
                remainingStake: p.stake,
                remainingPendingUnstake: p.pendingUnstake,
                strikes: p.strikes
            })
        );
        if (p.active && p.stake < minStake) {
            p.active = false;
            emit ProviderDeactivated(provider);
        }
    }

    /// @dev Removes up to `amount` from bonded stake, then from pending unstake, and records a strike.
    function _takeStake(Provider storage p, uint256 amount) internal returns (uint256 taken) {
        uint256 stake = p.stake;
        uint256 pending = p.pendingUnstake;
        uint256 fromStake = amount < stake ? amount : stake;
        uint256 fromPending;
        // Safe: fromStake <= amount and <= stake; fromPending <= pending.
        unchecked {
            fromPending = amount - fromStake;
            if (fromPending > pending) fromPending = pending;
            taken = fromStake + fromPending;
            // Safe: both only decrease from uint96 values.
            p.stake = uint96(stake - fromStake);
            p.pendingUnstake = uint96(pending - fromPending);
        }
        if (pending == fromPending) p.unstakeUnlockTime = 0;
        p.strikes = (uint256(p.strikes) + 1).toUint32();
    }

    /// @dev Separate frame so the ten-field event fits the legacy code generator's stack.
    function _emitSlashed(address provider, string memory reason, SlashRecord memory r) internal {
        emit ProviderSlashed(
            provider,
            r.amount,
            reason,
            r.evidenceHash,
            r.beneficiary,
            r.reporter,
            r.reporterReward,
            r.remainingStake,
            r.remainingPendingUnstake,
            r.strikes
        );
    }

    function _sendNative(address to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert NativeTransferFailed(to, amount);
    }
}
