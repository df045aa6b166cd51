// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IOracle} from "../interfaces/IOracle.sol";

/// @title Oracle
/// @notice Per market, the index price is the median of the fresh sources. A source is any
/// AggregatorV3Interface: pushed feeds standing in for external exchanges, and adapters over spot
/// pools' TWAPs. A source is fresh while block.timestamp - updatedAt <= its heartbeat and its answer is
/// positive; stale sources are dropped. With an even count the median is the mean of the middle two.
contract Oracle is IOracle, AccessControl {
    bytes32 public constant CONFIG_ROLE = keccak256("CONFIG_ROLE");
    uint256 public constant MAX_SOURCES = 7;

    struct Source {
        AggregatorV3Interface feed;
        uint8 decimals;
        uint32 heartbeat; // seconds
    }

    mapping(uint256 marketId => Source[]) private _sources;

    event SourcesSet(uint256 indexed marketId, address[] feeds, uint32[] heartbeats);

    error NoSources();
    error TooManySources(uint256 count, uint256 max);
    error LengthMismatch(uint256 feeds, uint256 heartbeats);
    error InvalidHeartbeat(address feed);
    error DecimalsTooLarge(address feed, uint8 decimals);

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CONFIG_ROLE, admin);
    }

    /// @notice Replaces a market's sources; config role only. Heartbeats in seconds.
    function setSources(
        uint256 marketId,
        address[] calldata feeds,
        uint32[] calldata heartbeats
    ) external onlyRole(CONFIG_ROLE) {
        if (feeds.length == 0) revert NoSources();
        if (feeds.length > MAX_SOURCES) revert TooManySources(feeds.length, MAX_SOURCES);
        if (feeds.length != heartbeats.length) revert LengthMismatch(feeds.length, heartbeats.length);
        delete _sources[marketId];
        for (uint256 i; i < feeds.length; ++i) {
            if (heartbeats[i] == 0) revert InvalidHeartbeat(feeds[i]);
            uint8 dec = AggregatorV3Interface(feeds[i]).decimals();
            if (dec > 18) revert DecimalsTooLarge(feeds[i], dec);
            _sources[marketId].push(Source(AggregatorV3Interface(feeds[i]), dec, heartbeats[i]));
        }
        emit SourcesSet(marketId, feeds, heartbeats);
    }

    /// @notice A market's sources.
    function sources(uint256 marketId) external view returns (Source[] memory) {
        return _sources[marketId];
    }

    /// @inheritdoc IOracle
    function indexPrice(uint256 marketId) external view returns (uint256 price, uint256 fresh) {
        Source[] storage list = _sources[marketId];
        uint256[] memory prices = new uint256[](list.length);
        for (uint256 i; i < list.length; ++i) {
            Source memory s = list[i];
            (, int256 answer, , uint256 updatedAt, ) = s.feed.latestRoundData();
            if (answer <= 0 || updatedAt > block.timestamp || block.timestamp - updatedAt > s.heartbeat) continue;
            uint256 p = uint256(answer) * 10 ** (18 - s.decimals);
            // insertion sort: at most MAX_SOURCES entries
            uint256 j = fresh;
            while (j > 0 && prices[j - 1] > p) {
                prices[j] = prices[j - 1];
                --j;
            }
            prices[j] = p;
            ++fresh;
        }
        if (fresh == 0) return (0, 0);
        uint256 mid = fresh / 2;
        price = fresh % 2 == 1 ? prices[mid] : (prices[mid - 1] + prices[mid]) / 2;
    }
}
