// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title CoinToken
/// @notice An 18-decimal coin traded on a spot pool (the "ALT" or "BTC" of a market); the minter role
/// seeds pools and market makers. On a local chain anyone may draw from a faucet, as from the USD
/// token's: the coin is the collateral of its coin-margined markets.
contract CoinToken is ERC20, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    uint256 public constant LOCAL_CHAIN_ID = 31337;
    /// @notice Most one faucet call may mint: 1,000,000 coins.
    uint256 public constant FAUCET_LIMIT = 1_000_000e18;

    error FaucetOnlyOnLocalChain(uint256 chainId);
    error FaucetAmountTooLarge(uint256 amount, uint256 limit);

    constructor(string memory name_, string memory symbol_, address admin) ERC20(name_, symbol_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @notice Mints `amount` to `to`; minter role only.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Mints `amount` (18 decimals) to `to`; only on chain id 31337.
    function faucet(address to, uint256 amount) external {
        if (block.chainid != LOCAL_CHAIN_ID) revert FaucetOnlyOnLocalChain(block.chainid);
        if (amount > FAUCET_LIMIT) revert FaucetAmountTooLarge(amount, FAUCET_LIMIT);
        _mint(to, amount);
    }
}
