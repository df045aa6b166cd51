// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title CollateralToken
/// @notice A 6-decimal USD stable token like USDT, with a faucet that exists only on a local chain.
contract CollateralToken is ERC20 {
    uint256 public constant LOCAL_CHAIN_ID = 31337;
    /// @notice Most one faucet call may mint: 1,000,000 tokens.
    uint256 public constant FAUCET_LIMIT = 1_000_000e6;

    error FaucetOnlyOnLocalChain(uint256 chainId);
    error FaucetAmountTooLarge(uint256 amount, uint256 limit);

    constructor() ERC20("perpsim USD", "pUSD") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` (6 decimals) to `to`; only on chain id 31337.
    function faucet(address to, uint256 amount) external {
        if (block.chainid != LOCAL_CHAIN_ID) revert FaucetOnlyOnLocalChain(block.chainid);
        if (amount > FAUCET_LIMIT) revert FaucetAmountTooLarge(amount, FAUCET_LIMIT);
        _mint(to, amount);
    }
}
