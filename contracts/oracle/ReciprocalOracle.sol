// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IOracle} from "../interfaces/IOracle.sol";

/// @title ReciprocalOracle
/// @notice The index of a coin-margined (inverse) market: the reciprocal 1/P (WAD coin per USD) of a USD
/// market's index P in the base oracle, with the base market's freshness.
/// @dev An inverse position of face Q USD has PnL s*Q*(1/entry - 1/P) in the coin (SPEC 9.2), which is a
/// linear position of the opposite side and size Q on the price 1/P: PnL = -s*Q*(1/P - 1/entry). Its
/// notional Q/P, fees rate*Q/P, funding s*Q/mark*rate and maintenance brackets of coin notional are the
/// linear formulas on 1/P too, and the arithmetic mean of entries in 1/P is the harmonic mean in P. So a
/// coin-margined market is an engine margined in the coin whose oracle is this contract; the engine runs
/// unchanged, and tools present sides, prices and sizes in the trader's terms (lib/inverse.ts).
contract ReciprocalOracle is IOracle, AccessControl {
    bytes32 public constant CONFIG_ROLE = keccak256("CONFIG_ROLE");
    uint256 private constant WAD_SQUARED = 1e36;

    /// @notice The oracle whose USD indexes this one inverts.
    IOracle public immutable base;
    /// @notice Each market's base market (0: not listed).
    mapping(uint256 marketId => uint256 baseMarketId) public baseMarketOf;

    event MarketListed(uint256 indexed marketId, uint256 indexed baseMarketId);

    error ZeroMarketId();
    error NotListed(uint256 marketId);

    constructor(IOracle base_, address admin) {
        base = base_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CONFIG_ROLE, admin);
    }

    /// @notice Lists `marketId` as the reciprocal of the base oracle's `baseMarketId`; config role only.
    /// @param marketId the market id the inverse engine reads
    /// @param baseMarketId the base oracle's USD market whose index this one inverts
    function list(uint256 marketId, uint256 baseMarketId) external onlyRole(CONFIG_ROLE) {
        if (marketId == 0 || baseMarketId == 0) revert ZeroMarketId();
        baseMarketOf[marketId] = baseMarketId;
        emit MarketListed(marketId, baseMarketId);
    }

    /// @inheritdoc IOracle
    function indexPrice(uint256 marketId) external view returns (uint256 price, uint256 freshSources) {
        (price, freshSources) = base.indexPrice(_baseOf(marketId));
        price = _reciprocal(price);
    }

    /// @inheritdoc IOracle
    function lastIndexPrice(uint256 marketId) external view returns (uint256 price, uint256 freshUntil) {
        (price, freshUntil) = base.lastIndexPrice(_baseOf(marketId));
        price = _reciprocal(price);
    }

    function _baseOf(uint256 marketId) private view returns (uint256 baseMarketId) {
        baseMarketId = baseMarketOf[marketId];
        if (baseMarketId == 0) revert NotListed(marketId);
    }

    /// @dev 1/P in WAD, rounded down; 0 stays 0 (no price). A price above 1e36 would read as 0, no price:
    /// the base oracle's WAD prices are far below it.
    function _reciprocal(uint256 price) private pure returns (uint256) {
        return price == 0 ? 0 : WAD_SQUARED / price;
    }
}
