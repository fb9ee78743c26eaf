// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {ComputeRegistry} from "../../contracts/ComputeRegistry.sol";
import {ComputeRental} from "../../contracts/ComputeRental.sol";
import {LocalUSDC} from "../../contracts/test/LocalUSDC.sol";
import {IComputeRegistry} from "../../contracts/interfaces/IComputeRegistry.sol";
import {IComputeRental} from "../../contracts/interfaces/IComputeRental.sol";

/// @notice Deploys the protocol as script/Deploy.s.sol does and registers one provider with 8 GPUs.
abstract contract ComputeFixture is Test {
    ComputeRegistry internal registry;
    ComputeRental internal rental;
    LocalUSDC internal usdc;

    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");
    address internal provider = makeAddr("provider");
    address internal renter;
    uint256 internal renterKey;
    address internal stranger = makeAddr("stranger");

    uint256 internal constant FEE_BPS = 250;
    uint256 internal constant STAKE = 1 ether;
    uint256 internal constant ETH_RATE = 0.01 ether; // per GPU-hour
    uint256 internal constant USDC_RATE = 2e6; // 2 USDC per GPU-hour
    string internal constant ENDPOINT = "https://mynode.example.com:4007";
    string internal constant ATTESTATION = "tdx-quote-0001";
    string internal constant SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk1bXn0d5Fv1x4Lqk8Qz renter@host";

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        (renter, renterKey) = makeAddrAndKey("renter");
        registry = new ComputeRegistry(admin, treasury);
        rental = new ComputeRental(registry, admin, treasury, FEE_BPS);
        usdc = new LocalUSDC();
        vm.startPrank(admin);
        registry.grantRole(registry.RENTAL_ROLE(), address(rental));
        registry.grantRole(registry.SLASHER_ROLE(), address(rental));
        registry.setPaymentTokenAllowed(address(usdc), true);
        rental.setAuthorizationToken(address(usdc));
        vm.stopPrank();

        _registerProvider(provider, 8);
        vm.deal(renter, 100 ether);
        vm.deal(stranger, 100 ether);
        usdc.mint(renter, 1_000_000e6);
        vm.prank(renter);
        usdc.approve(address(rental), type(uint256).max);
    }

    function _registerProvider(address who, uint16 gpus) internal {
        vm.deal(who, who.balance + STAKE);
        vm.startPrank(who);
        registry.register{value: STAKE}(ENDPOINT, ATTESTATION, ETH_RATE);
        registry.setHardware(_hardware(gpus));
        registry.setTokenPrice(address(usdc), USDC_RATE);
        vm.stopPrank();
    }

    function _hardware(uint16 gpus) internal pure returns (IComputeRegistry.Hardware memory) {
        return IComputeRegistry.Hardware({
            gpuModel: "NVIDIA H100 80GB HBM3",
            gpuCount: gpus,
            vramGb: 80,
            cpuCores: 64,
            memoryGb: 512,
            storageGb: 4000,
            teeType: IComputeRegistry.TeeType.NvidiaCC
        });
    }

    function _createEth(uint256 gpus, uint256 hours_) internal returns (uint256 id) {
        uint256 cost = ETH_RATE * (gpus == 0 ? 1 : gpus) * hours_;
        vm.prank(renter);
        id = rental.createSession{value: cost}(provider, hours_, SSH_KEY, gpus, address(0));
    }

    function _createUsdc(uint256 gpus, uint256 hours_) internal returns (uint256 id) {
        vm.prank(renter);
        id = rental.createSession(provider, hours_, SSH_KEY, gpus, address(usdc));
    }

    function _activate(uint256 id) internal {
        vm.prank(provider);
        rental.activateSession(id, '{"host":"10.0.0.5","port":2222,"username":"session-1"}');
    }

    function _status(uint256 id) internal view returns (IComputeRental.SessionStatus) {
        return rental.getSession(id).status;
    }
}
