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
    /// @notice How many markets the constructor can list in code (`_initial`).
    uint256 public constant MAX_INITIAL_LISTINGS = 8;

    uint256 private constant WAD_SQUARED = 1e36;
    uint256 private constant ID_BITS = 16;
    uint256 private constant ID_MASK = (1 << ID_BITS) - 1;

    /// @notice A market and the base oracle's USD market it inverts.
    struct Listing {
        uint256 marketId;
        uint256 baseMarketId;
    }

    /// @notice The oracle whose USD indexes this one inverts.
    IOracle public immutable base;
    /// @dev The listings made at deployment, in code: (market id, base market id) as 16-bit pairs, the first
    /// in the low 32 bits; zero past the last. Every trade on a coin-margined market reads its index here,
    /// and a listing in code costs it no storage read (a cold slot, 2,100 gas).
    uint256 private immutable _initial;
    /// @dev Markets listed after deployment (`list`).
    mapping(uint256 marketId => uint256 baseMarketId) private _listed;

    event MarketListed(uint256 indexed marketId, uint256 indexed baseMarketId);

    error ZeroMarketId();
    error NotListed(uint256 marketId);
    error ListedAtDeployment(uint256 marketId);
    error TooManyInitialListings(uint256 count, uint256 max);
    error InitialListingOutOfRange(uint256 marketId, uint256 baseMarketId);

    /// @param base_ the oracle of the USD markets
    /// @param admin holder of the admin and config roles
    /// @param initial the markets listed at deployment, at most MAX_INITIAL_LISTINGS, ids below 2^16; each
    /// is final (`list` cannot move it), and a trade on it reads no storage here
    constructor(IOracle base_, address admin, Listing[] memory initial) {
        if (initial.length > MAX_INITIAL_LISTINGS) revert TooManyInitialListings(initial.length, MAX_INITIAL_LISTINGS);
        base = base_;
        uint256 packed;
        for (uint256 i; i < initial.length; ++i) {
            (uint256 marketId, uint256 baseMarketId) = (initial[i].marketId, initial[i].baseMarketId);
            if (marketId == 0 || baseMarketId == 0) revert ZeroMarketId();
            if (marketId > ID_MASK || baseMarketId > ID_MASK) revert InitialListingOutOfRange(marketId, baseMarketId);
            if (_find(packed, marketId) != 0) revert ListedAtDeployment(marketId);
            packed |= (marketId | (baseMarketId << ID_BITS)) << (2 * ID_BITS * i);
            emit MarketListed(marketId, baseMarketId);
        }
        _initial = packed;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CONFIG_ROLE, admin);
    }

    /// @notice Lists `marketId` as the reciprocal of the base oracle's `baseMarketId`, or moves it to
    /// another; config role only. A market listed at deployment cannot be moved.
    /// @param marketId the market id the inverse engine reads
    /// @param baseMarketId the base oracle's USD market whose index this one inverts
    function list(uint256 marketId, uint256 baseMarketId) external onlyRole(CONFIG_ROLE) {
        if (marketId == 0 || baseMarketId == 0) revert ZeroMarketId();
        if (_find(_initial, marketId) != 0) revert ListedAtDeployment(marketId);
        _listed[marketId] = baseMarketId;
        emit MarketListed(marketId, baseMarketId);
    }

    /// @notice The base market `marketId` inverts; 0 when it is not listed.
    function baseMarketOf(uint256 marketId) public view returns (uint256 baseMarketId) {
        baseMarketId = _find(_initial, marketId);
        if (baseMarketId == 0) baseMarketId = _listed[marketId];
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
        baseMarketId = baseMarketOf(marketId);
        if (baseMarketId == 0) revert NotListed(marketId);
    }

    /// @dev The base market of `marketId` among the packed listings, 0 when none (ids are never 0).
    function _find(uint256 packed, uint256 marketId) private pure returns (uint256) {
        for (; packed != 0; packed >>= 2 * ID_BITS) {
            if (packed & ID_MASK == marketId) return (packed >> ID_BITS) & ID_MASK;
        }
        return 0;
    }

    /// @dev 1/P in WAD, rounded down; 0 stays 0 (no price). A price above 1e36 would read as 0, no price:
    /// the base oracle's WAD prices are far below it.
    function _reciprocal(uint256 price) private pure returns (uint256) {
        return price == 0 ? 0 : WAD_SQUARED / price;
    }
}
