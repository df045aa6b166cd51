// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IOracle} from "../interfaces/IOracle.sol";

/// @title Oracle
/// @notice Per market, the index price is the median of the fresh sources. A source is any
/// AggregatorV3Interface: pushed feeds standing in for external exchanges, and adapters over spot
/// pools' TWAPs. A source is fresh while block.timestamp - updatedAt <= its heartbeat and its answer is
/// positive; stale sources are dropped. With an even count the median is the mean of the middle two.
/// A pushed feed connected to this oracle records each round here (`recordPrice`); such a source is read
/// from that record, one storage slot, instead of an external call.
contract Oracle is IOracle, AccessControl {
    using SafeCast for int256;
    using SafeCast for uint256;

    bytes32 public constant CONFIG_ROLE = keccak256("CONFIG_ROLE");
    uint256 public constant MAX_SOURCES = 7;

    struct Source {
        AggregatorV3Interface feed;
        uint8 decimals;
        uint32 heartbeat; // seconds
        bool recorded; // the feed records its rounds here: read the record, do not call
    }

    /// @notice A feed's latest round as it recorded it (one slot).
    struct Record {
        int128 answer;
        uint48 updatedAt;
    }

    mapping(uint256 marketId => Source[]) private _sources;
    /// @notice Each recording feed's latest round.
    mapping(address feed => Record) public records;

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
            _sources[marketId].push(
                Source(AggregatorV3Interface(feeds[i]), dec, heartbeats[i], _recordsHere(feeds[i]))
            );
        }
        emit SourcesSet(marketId, feeds, heartbeats);
    }

    /// @inheritdoc IOracle
    /// @dev No event: the record mirrors the feed's round, which the feed announces.
    function recordPrice(int256 answer, uint256 updatedAt) external {
        records[msg.sender] = Record(answer.toInt128(), updatedAt.toUint48());
    }

    /// @notice A market's sources.
    function sources(uint256 marketId) external view returns (Source[] memory) {
        return _sources[marketId];
    }

    /// @inheritdoc IOracle
    function indexPrice(uint256 marketId) external view returns (uint256 price, uint256 fresh) {
        Source[] storage list = _sources[marketId];
        uint256 n = list.length;
        uint256[] memory prices = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            (uint256 p, uint256 freshUntil) = _read(list[i]);
            if (freshUntil < block.timestamp) continue;
            _insert(prices, fresh++, p);
        }
        price = _median(prices, fresh);
    }

    /// @inheritdoc IOracle
    function lastIndexPrice(uint256 marketId) external view returns (uint256 price, uint256 freshUntil) {
        Source[] storage list = _sources[marketId];
        uint256 n = list.length;
        uint256[] memory prices = new uint256[](n);
        uint256 count;
        for (uint256 i; i < n; ++i) {
            (uint256 p, uint256 until) = _read(list[i]);
            if (p == 0 || until < freshUntil) continue;
            if (until > freshUntil) (freshUntil, count) = (until, 0);
            _insert(prices, count++, p);
        }
        price = _median(prices, count);
    }

    /// @dev A source's answer in WAD and the last second it is fresh; (0, 0) for an answer that is not
    /// positive or is dated in the future.
    function _read(Source memory s) private view returns (uint256 price, uint256 freshUntil) {
        int256 answer;
        uint256 updatedAt;
        if (s.recorded) {
            Record memory r = records[address(s.feed)];
            (answer, updatedAt) = (r.answer, r.updatedAt);
        } else {
            (, answer, , updatedAt, ) = s.feed.latestRoundData();
        }
        if (answer <= 0 || updatedAt > block.timestamp) return (0, 0);
        return (uint256(answer) * 10 ** (18 - s.decimals), updatedAt + s.heartbeat);
    }

    /// @dev Whether `feed` says it records its rounds into this oracle (a feed without an `oracle()` view
    /// does not).
    function _recordsHere(address feed) private view returns (bool) {
        (bool ok, bytes memory ret) = feed.staticcall(abi.encodeWithSignature("oracle()"));
        return ok && ret.length == 32 && abi.decode(ret, (uint256)) == uint256(uint160(address(this)));
    }

    /// @dev Inserts `p` into the sorted prefix prices[0..n) (insertion sort: at most MAX_SOURCES entries).
    function _insert(uint256[] memory prices, uint256 n, uint256 p) private pure {
        uint256 j = n;
        while (j > 0 && prices[j - 1] > p) {
            prices[j] = prices[j - 1];
            --j;
        }
        prices[j] = p;
    }

    /// @dev The median of the sorted prices[0..n); the mean of the middle two for an even n; 0 for none.
    function _median(uint256[] memory prices, uint256 n) private pure returns (uint256) {
        if (n == 0) return 0;
        uint256 mid = n / 2;
        return n % 2 == 1 ? prices[mid] : (prices[mid - 1] + prices[mid]) / 2;
    }
}
