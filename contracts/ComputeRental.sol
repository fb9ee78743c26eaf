// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IComputeRegistry} from "./interfaces/IComputeRegistry.sol";
import {IComputeRental} from "./interfaces/IComputeRental.sol";
import {IERC3009Receive} from "./interfaces/IERC3009Receive.sol";
import {BillingLib} from "./libraries/BillingLib.sol";

/// @title ComputeRental
/// @notice Escrowed, prepaid rental sessions. See {IComputeRental} for the documentation of every function, error
/// and event.
/// @dev For every token, the balance held here is exactly Σ prepaid of open (pending or active) sessions +
/// Σ credits. Capacity is reserved in the registry at creation and released exactly once when a session closes.
contract ComputeRental is IComputeRental, AccessControl, ReentrancyGuardTransient, EIP712, Nonces {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @inheritdoc IComputeRental
    uint256 public constant MAX_FEE_BPS = 1_000;
    /// @inheritdoc IComputeRental
    uint256 public constant MAX_DURATION_HOURS = 8_760;
    /// @inheritdoc IComputeRental
    bytes32 public constant END_SESSION_TYPEHASH =
        keccak256("EndSession(uint256 sessionId,uint256 nonce,uint256 deadline)");

    /// @dev Three slots. Slot 0 is the only one written on activation and settlement; slot 1 only on extension.
    /// `prepaid` is not stored: it is ratePerHour × max(gpuCount, 1) × durationHours.
    struct Session {
        // slot 0
        address renter;
        uint40 startedAt;
        uint40 endedAt;
        SessionStatus status;
        // slot 1
        address provider;
        uint40 createdAt;
        uint32 durationHours;
        uint16 gpuCount;
        // slot 2
        address token;
        uint96 ratePerHour;
    }

    /// @dev Read together on every settlement.
    struct Config {
        address treasury;
        uint16 feeBps;
        uint40 provisionTimeout;
    }

    /// @dev An EIP-3009 authorization, gathered in memory to keep the stack shallow.
    struct Authorization {
        address from;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }

    IComputeRegistry internal immutable _registry;

    Config internal _config;
    /// @inheritdoc IComputeRental
    uint256 public cancelSlashAmount;
    /// @inheritdoc IComputeRental
    address public authorizationToken;
    /// @inheritdoc IComputeRental
    uint256 public nextSessionId = 1;

    mapping(uint256 sessionId => Session) internal _sessions;
    /// @inheritdoc IComputeRental
    mapping(address account => mapping(address token => uint256 amount)) public credits;

    /// @param registry_ The provider registry; this contract needs its RENTAL_ROLE and SLASHER_ROLE.
    /// @param admin Governance (DEFAULT_ADMIN_ROLE).
    /// @param treasury_ Fee recipient.
    /// @param feeBps_ Protocol fee in bps of the provider's part, at most {MAX_FEE_BPS}.
    constructor(IComputeRegistry registry_, address admin, address treasury_, uint256 feeBps_)
        EIP712("ComputeRental", "1")
    {
        if (address(registry_) == address(0) || admin == address(0) || treasury_ == address(0)) {
            revert ZeroAddress();
        }
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        _registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        // Safe: feeBps_ <= MAX_FEE_BPS fits uint16.
        _config = Config({treasury: treasury_, feeBps: uint16(feeBps_), provisionTimeout: 1 hours});
        cancelSlashAmount = 0.01 ether;
        emit TreasurySet(treasury_);
        emit FeeSet(feeBps_);
        emit ProvisionTimeoutSet(1 hours);
        emit CancelSlashAmountSet(0.01 ether);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Sessions
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IComputeRental
    function createSession(
        address provider,
        uint256 durationHours,
        string calldata sshPublicKey,
        uint256 gpuCount,
        address paymentToken
    ) external payable nonReentrant returns (uint256 sessionId) {
        uint256 prepaid;
        (sessionId, prepaid) = _create(msg.sender, provider, durationHours, sshPublicKey, gpuCount, paymentToken);
        if (paymentToken == address(0)) {
            if (msg.value != prepaid) revert IncorrectPayment(msg.value, prepaid);
        } else {
            if (msg.value != 0) revert IncorrectPayment(msg.value, 0);
            IERC20(paymentToken).safeTransferFrom(msg.sender, address(this), prepaid);
        }
    }

    /// @inheritdoc IComputeRental
    function createSessionWithAuthorization(
        address provider,
        uint256 durationHours,
        string calldata sshPublicKey,
        uint256 gpuCount,
        address from,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 salt,
        bytes calldata signature
    ) external nonReentrant returns (uint256 sessionId) {
        if (from == address(0)) revert ZeroAddress();
        // Built field by field: the eleven calldata words of this function leave little stack.
        Authorization memory auth;
        auth.from = from;
        auth.validAfter = validAfter;
        auth.validBefore = validBefore;
        auth.nonce = _authorizationNonce(provider, durationHours, sshPublicKey, gpuCount, salt);
        (sessionId, auth.value) =
            _create(from, provider, durationHours, sshPublicKey, gpuCount, _requireAuthorizationToken());
        _receiveWithAuthorization(authorizationToken, auth, signature);
    }

    /// @inheritdoc IComputeRental
    function activateSession(uint256 sessionId, string calldata connection) external {
        Session storage s = _sessions[sessionId];
        SessionStatus status = s.status;
        if (status == SessionStatus.None) revert SessionNotFound(sessionId);
        if (status != SessionStatus.Pending) revert SessionNotPending(sessionId, status);
        address provider = s.provider;
        if (msg.sender != provider) revert CallerNotProvider(sessionId, msg.sender);
        s.status = SessionStatus.Active;
        s.startedAt = uint40(block.timestamp);
        uint64 expiresAt = uint64(block.timestamp + uint256(s.durationHours) * 1 hours);
        emit SessionActivated(sessionId, s.renter, provider, connection, uint64(block.timestamp), expiresAt);
    }

    /// @inheritdoc IComputeRental
    function rejectSession(uint256 sessionId, string calldata reason) external nonReentrant {
        Session storage s = _sessions[sessionId];
        SessionStatus status = s.status;
        if (status == SessionStatus.None) revert SessionNotFound(sessionId);
        if (status != SessionStatus.Pending) revert SessionNotPending(sessionId, status);
        address provider = s.provider;
        if (msg.sender != provider) revert CallerNotProvider(sessionId, msg.sender);
        s.status = SessionStatus.Rejected;
        s.endedAt = uint40(block.timestamp);
        (address renter, address token, uint256 refund) = _refundInFull(s);
        emit SessionRejected(sessionId, renter, provider, token, refund, reason);
        _registry.releaseCapacity(provider, s.gpuCount);
    }

    /// @inheritdoc IComputeRental
    function cancelSession(uint256 sessionId) external nonReentrant {
        Session storage s = _sessions[sessionId];
        SessionStatus status = s.status;
        if (status == SessionStatus.None) revert SessionNotFound(sessionId);
        if (status != SessionStatus.Pending) revert SessionNotPending(sessionId, status);
        if (msg.sender != s.renter) revert CallerNotRenter(sessionId, msg.sender);
        uint256 cancellableAt = uint256(s.createdAt) + _config.provisionTimeout;
        if (block.timestamp < cancellableAt) revert ProvisionTimeoutNotReached(sessionId, cancellableAt);
        s.status = SessionStatus.Cancelled;
        s.endedAt = uint40(block.timestamp);
        (address renter, address token, uint256 refund) = _refundInFull(s);
        address provider = s.provider;
        _registry.releaseCapacity(provider, s.gpuCount);
        // The registry is trusted and this function is nonReentrant; the event follows the slash because it
        // reports the amount actually slashed (capped by the provider's remaining stake). A failing slash (e.g.
        // SLASHER_ROLE revoked) must never block the renter's refund, so it is caught and reported as 0.
        uint256 slashed;
        try _registry.slash(
            provider, cancelSlashAmount, "provision timeout", keccak256(abi.encode(block.chainid, sessionId)), renter
        ) returns (
            uint256 amount
        ) {
            slashed = amount;
        } catch {}
        emit SessionCancelled(sessionId, renter, provider, token, refund, slashed);
    }

    /// @inheritdoc IComputeRental
    function extendSession(uint256 sessionId, uint256 addedHours) external payable nonReentrant {
        Session storage s = _sessions[sessionId];
        SessionStatus status = s.status;
        if (status == SessionStatus.None) revert SessionNotFound(sessionId);
        if (status != SessionStatus.Pending && status != SessionStatus.Active) {
            revert SessionNotOpen(sessionId, status);
        }
        if (msg.sender != s.renter) revert CallerNotRenter(sessionId, msg.sender);
        if (addedHours == 0) revert DurationZero();
        uint256 oldHours = s.durationHours;
        if (status == SessionStatus.Active) {
            uint256 expiresAt = uint256(s.startedAt) + oldHours * 1 hours;
            if (block.timestamp >= expiresAt) revert SessionExpired(sessionId, expiresAt);
        }
        uint256 newHours = oldHours + addedHours;
        if (newHours > MAX_DURATION_HOURS) revert DurationTooLong(newHours, MAX_DURATION_HOURS);
        // Safe: newHours <= MAX_DURATION_HOURS fits uint32.
        s.durationHours = uint32(newHours);
        (address token, uint256 added) = _emitExtended(sessionId, s, addedHours);
        if (token == address(0)) {
            if (msg.value != added) revert IncorrectPayment(msg.value, added);
        } else {
            if (msg.value != 0) revert IncorrectPayment(msg.value, 0);
            IERC20(token).safeTransferFrom(msg.sender, address(this), added);
        }
    }

    /// @inheritdoc IComputeRental
    function endSession(uint256 sessionId) external nonReentrant {
        _end(sessionId, msg.sender, false);
    }

    /// @inheritdoc IComputeRental
    function endSessionBySig(uint256 sessionId, uint256 deadline, bytes calldata signature) external nonReentrant {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        address renter = _sessions[sessionId].renter;
        if (renter == address(0)) revert SessionNotFound(sessionId);
        bytes32 digest = hashEndSession(sessionId, _useNonce(renter), deadline);
        if (!SignatureChecker.isValidSignatureNow(renter, digest, signature)) revert InvalidSignature();
        (address token, uint256 refund) = _end(sessionId, renter, true);
        // A gasless renter may hold no ETH to call {withdraw}, so an ERC-20 refund is pushed. Interactions last:
        // the session is settled and its capacity released above. `trySafeTransfer` never reverts, so a renter the
        // token refuses (e.g. blacklisted) cannot block settlement: the refund stays a credit to withdraw later.
        if (refund != 0) {
            if (IERC20(token).trySafeTransfer(renter, refund)) emit Withdrawn(renter, token, refund);
            else credits[renter][token] += refund;
        }
    }

    /// @inheritdoc IComputeRental
    function withdraw(address token) external nonReentrant {
        uint256 amount = credits[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        credits[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, amount);
        if (token == address(0)) {
            (bool ok,) = msg.sender.call{value: amount}("");
            if (!ok) revert NativeTransferFailed(msg.sender, amount);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Governance
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IComputeRental
    function setFee(uint256 feeBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        // Safe: feeBps_ <= MAX_FEE_BPS fits uint16.
        _config.feeBps = uint16(feeBps_);
        emit FeeSet(feeBps_);
    }

    /// @inheritdoc IComputeRental
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        _config.treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @inheritdoc IComputeRental
    function setProvisionTimeout(uint256 provisionTimeout_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _config.provisionTimeout = provisionTimeout_.toUint40();
        emit ProvisionTimeoutSet(provisionTimeout_);
    }

    /// @inheritdoc IComputeRental
    function setCancelSlashAmount(uint256 cancelSlashAmount_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        cancelSlashAmount = cancelSlashAmount_;
        emit CancelSlashAmountSet(cancelSlashAmount_);
    }

    /// @inheritdoc IComputeRental
    function setAuthorizationToken(address token) external onlyRole(DEFAULT_ADMIN_ROLE) {
        authorizationToken = token;
        emit AuthorizationTokenSet(token);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IComputeRental
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IComputeRental
    function treasury() external view returns (address) {
        return _config.treasury;
    }

    /// @inheritdoc IComputeRental
    function feeBps() external view returns (uint256) {
        return _config.feeBps;
    }

    /// @inheritdoc IComputeRental
    function provisionTimeout() external view returns (uint256) {
        return _config.provisionTimeout;
    }

    /// @inheritdoc IComputeRental
    function getSession(uint256 sessionId) external view returns (SessionInfo memory info) {
        Session storage s = _sessions[sessionId];
        uint256 startedAt = s.startedAt;
        info = SessionInfo({
            renter: s.renter,
            provider: s.provider,
            token: s.token,
            ratePerHour: s.ratePerHour,
            gpuCount: s.gpuCount,
            durationHours: s.durationHours,
            prepaid: BillingLib.prepaid(s.ratePerHour, s.gpuCount, s.durationHours),
            createdAt: s.createdAt,
            startedAt: uint64(startedAt),
            expiresAt: startedAt == 0 ? 0 : uint64(startedAt + uint256(s.durationHours) * 1 hours),
            endedAt: s.endedAt,
            status: s.status
        });
    }

    /// @inheritdoc IComputeRental
    function previewSettlement(uint256 sessionId)
        external
        view
        returns (uint256 usedSeconds, uint256 refund, uint256 providerPayout, uint256 fee)
    {
        Session storage s = _sessions[sessionId];
        SessionStatus status = s.status;
        if (status == SessionStatus.None) revert SessionNotFound(sessionId);
        if (status != SessionStatus.Pending && status != SessionStatus.Active) {
            revert SessionNotOpen(sessionId, status);
        }
        usedSeconds = _usedSeconds(status, s.startedAt, s.durationHours);
        (refund, providerPayout, fee) =
            BillingLib.split(s.ratePerHour, s.gpuCount, s.durationHours, usedSeconds, _config.feeBps);
    }

    /// @inheritdoc IComputeRental
    function quote(address provider, address token, uint256 gpuCount, uint256 durationHours)
        external
        view
        returns (uint256 cost)
    {
        return BillingLib.prepaid(_registry.priceOf(provider, token), gpuCount, durationHours);
    }

    /// @inheritdoc IComputeRental
    function sessionAuthorizationNonce(
        address provider,
        uint256 durationHours,
        string calldata sshPublicKey,
        uint256 gpuCount,
        bytes32 salt
    ) external pure returns (bytes32) {
        return _authorizationNonce(provider, durationHours, sshPublicKey, gpuCount, salt);
    }

    /// @inheritdoc IComputeRental
    function hashEndSession(uint256 sessionId, uint256 nonce, uint256 deadline) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(END_SESSION_TYPEHASH, sessionId, nonce, deadline)));
    }

    /// @notice EIP-712 domain separator (domain "ComputeRental", version "1").
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Validates, reserves capacity at the provider's current price (locked here), stores the session and
    /// emits {SessionCreated}. The caller collects `prepaid` afterwards (interactions last).
    function _create(
        address renter,
        address provider,
        uint256 durationHours,
        string calldata sshPublicKey,
        uint256 gpuCount,
        address token
    ) internal returns (uint256 sessionId, uint256 prepaid) {
        if (durationHours == 0) revert DurationZero();
        if (durationHours > MAX_DURATION_HOURS) revert DurationTooLong(durationHours, MAX_DURATION_HOURS);
        if (bytes(sshPublicKey).length == 0) revert SshKeyEmpty();
        // The registry is trusted (set at construction); it validates provider, token, price and capacity.
        // Reverts with InsufficientGpus for any gpuCount above the provider's uint16 GPU count.
        uint256 rate = _registry.reserveCapacity(provider, token, gpuCount);
        prepaid = BillingLib.prepaid(rate, gpuCount, durationHours);
        sessionId = nextSessionId;
        // Safe: one session per call; 2^256 calls cannot happen.
        unchecked {
            nextSessionId = sessionId + 1;
        }
        // Safe casts: durationHours <= MAX_DURATION_HOURS, gpuCount <= provider's uint16 GPUs (checked by the
        // registry), rate <= type(uint96).max (the registry only stores uint96 prices).
        _sessions[sessionId] = Session({
            renter: renter,
            startedAt: 0,
            endedAt: 0,
            status: SessionStatus.Pending,
            provider: provider,
            createdAt: uint40(block.timestamp),
            durationHours: uint32(durationHours),
            gpuCount: uint16(gpuCount),
            token: token,
            ratePerHour: uint96(rate)
        });
        emit SessionCreated(sessionId, renter, provider, token, rate, gpuCount, durationHours, prepaid, sshPublicKey);
    }

    /// @dev Pulls `a.value` from `a.from` through EIP-3009. The token checks the signature over (from, to = this,
    /// value, validAfter, validBefore, nonce): a relayer cannot change the terms (bound by the nonce), the amount
    /// or the renter without invalidating it.
    function _receiveWithAuthorization(address token, Authorization memory a, bytes calldata signature) internal {
        if (signature.length == 65) {
            bytes32 r = bytes32(signature[0:32]);
            bytes32 s = bytes32(signature[32:64]);
            uint8 v = uint8(signature[64]);
            IERC3009Receive(token)
                .receiveWithAuthorization(a.from, address(this), a.value, a.validAfter, a.validBefore, a.nonce, v, r, s);
        } else {
            IERC3009Receive(token)
                .receiveWithAuthorization(
                    a.from, address(this), a.value, a.validAfter, a.validBefore, a.nonce, signature
                );
        }
    }

    /// @dev Emits {SessionExtended} for `s`, whose duration already includes `addedHours`.
    function _emitExtended(uint256 sessionId, Session storage s, uint256 addedHours)
        internal
        returns (address token, uint256 added)
    {
        token = s.token;
        added = BillingLib.prepaid(s.ratePerHour, s.gpuCount, addedHours);
        emit SessionExtended(
            sessionId, s.renter, s.provider, token, addedHours, added, s.durationHours, _prepaidOf(s), _expiresAt(s)
        );
    }

    function _prepaidOf(Session storage s) internal view returns (uint256) {
        return BillingLib.prepaid(s.ratePerHour, s.gpuCount, s.durationHours);
    }

    /// @dev startedAt + paid duration, or 0 while never activated.
    function _expiresAt(Session storage s) internal view returns (uint64) {
        uint256 startedAt = s.startedAt;
        // Safe: startedAt < 2^40 and durationHours <= MAX_DURATION_HOURS, so the sum fits uint64.
        return startedAt == 0 ? 0 : uint64(startedAt + uint256(s.durationHours) * 1 hours);
    }

    function _requireAuthorizationToken() internal view returns (address token) {
        token = authorizationToken;
        if (token == address(0)) revert AuthorizationTokenNotSet();
    }

    /// @dev Settles an open session on behalf of `caller`. With `holdErc20Refund`, an ERC-20 refund is not credited
    /// but returned (`token`, `refund`) for the caller to push; otherwise `refund` is 0 (already credited).
    function _end(uint256 sessionId, address caller, bool holdErc20Refund)
        internal
        returns (address token, uint256 refund)
    {
        Session storage s = _sessions[sessionId];
        SessionStatus status = s.status;
        if (status == SessionStatus.None) revert SessionNotFound(sessionId);
        if (status != SessionStatus.Pending && status != SessionStatus.Active) {
            revert SessionNotOpen(sessionId, status);
        }
        uint256 durationHours = s.durationHours;
        uint256 usedSeconds = _usedSeconds(status, s.startedAt, durationHours);
        if (caller != s.renter && caller != s.provider) {
            // Anyone may settle an active session once fully used (expired).
            if (status != SessionStatus.Active || usedSeconds < durationHours * 1 hours) {
                revert CallerNotParticipant(sessionId, caller);
            }
        }
        s.status = SessionStatus.Ended;
        s.endedAt = uint40(block.timestamp);
        return _settle(sessionId, s, caller, usedSeconds, holdErc20Refund);
    }

    /// @dev Credits refund, payout and fee of a session billed for `usedSeconds`, then releases its capacity. With
    /// `holdErc20Refund` and an ERC-20 session, the refund is returned uncredited (the caller pays it out);
    /// otherwise the returned `refund` is 0.
    function _settle(uint256 sessionId, Session storage s, address caller, uint256 usedSeconds, bool holdErc20Refund)
        internal
        returns (address token, uint256 heldRefund)
    {
        Config memory config = _config;
        token = s.token;
        (uint256 refund, uint256 providerPayout, uint256 fee) =
            BillingLib.split(s.ratePerHour, s.gpuCount, s.durationHours, usedSeconds, config.feeBps);
        if (holdErc20Refund && token != address(0)) heldRefund = refund;
        else if (refund != 0) credits[s.renter][token] += refund;
        if (providerPayout != 0) credits[s.provider][token] += providerPayout;
        if (fee != 0) credits[config.treasury][token] += fee;
        emit SessionEnded(sessionId, s.renter, s.provider, caller, token, usedSeconds, refund, providerPayout, fee);
        _registry.releaseCapacity(s.provider, s.gpuCount);
    }

    /// @dev Credits the whole prepaid amount back to the renter.
    function _refundInFull(Session storage s) internal returns (address renter, address token, uint256 refund) {
        renter = s.renter;
        token = s.token;
        refund = BillingLib.prepaid(s.ratePerHour, s.gpuCount, s.durationHours);
        credits[renter][token] += refund;
    }

    /// @dev Billed seconds: 0 unless active; capped at the paid duration.
    function _usedSeconds(SessionStatus status, uint256 startedAt, uint256 durationHours)
        internal
        view
        returns (uint256)
    {
        if (status != SessionStatus.Active) return 0;
        uint256 elapsed = block.timestamp - startedAt;
        uint256 paid = durationHours * 1 hours;
        return elapsed < paid ? elapsed : paid;
    }

    function _authorizationNonce(
        address provider,
        uint256 durationHours,
        string calldata sshPublicKey,
        uint256 gpuCount,
        bytes32 salt
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(provider, durationHours, keccak256(bytes(sshPublicKey)), gpuCount, salt));
    }
}
